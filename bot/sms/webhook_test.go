package sms

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
)

func waitForReceiver(t *testing.T, a *Adapter) {
	t.Helper()
	for range 1000 {
		if a.currentReceiver() != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("Run did not set the receiver")
}

// run starts a.Run with rec until the test ends.
func run(t *testing.T, a *Adapter, rec bot.Receiver) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx, rec)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitForReceiver(t, a)
}

func TestSignatureVector(t *testing.T) {
	// Twilio's published example.
	const vectorURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	const vectorSig = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	if got := smstest.Sign("12345", vectorURL, params); got != vectorSig {
		t.Fatalf("smstest.Sign gives %s for Twilio's vector", got)
	}
	changed := func(k, v string) url.Values {
		p := url.Values{}
		for k, v := range params {
			p[k] = slices.Clone(v)
		}
		p.Set(k, v)
		return p
	}
	tests := []struct {
		name   string
		token  string
		public string
		target string
		params url.Values
		ok     bool
	}{
		{"vector", "12345", "https://mycompany.com", "/myapp.php?foo=1&bar=2", params, true},
		{"public url with trailing slash", "12345", "https://mycompany.com/", "/myapp.php?foo=1&bar=2", params, true},
		{"changed param", "12345", "https://mycompany.com", "/myapp.php?foo=1&bar=2", changed("Digits", "1235"), false},
		{"added param", "12345", "https://mycompany.com", "/myapp.php?foo=1&bar=2", changed("Body", "hi"), false},
		{"changed query", "12345", "https://mycompany.com", "/myapp.php?foo=2&bar=2", params, false},
		{"changed path", "12345", "https://mycompany.com", "/other.php?foo=1&bar=2", params, false},
		{"changed host", "12345", "https://mycompany.org", "/myapp.php?foo=1&bar=2", params, false},
		{"changed scheme", "12345", "http://mycompany.com", "/myapp.php?foo=1&bar=2", params, false},
		{"changed token", "12346", "https://mycompany.com", "/myapp.php?foo=1&bar=2", params, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(Config{AccountSID: testSID, AuthToken: tc.token, From: testFrom, PublicURL: tc.public}, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.params.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Twilio-Signature", vectorSig)
			w := httptest.NewRecorder()
			_, ok := a.readSigned(w, r)
			if ok != tc.ok {
				t.Errorf("signature accepted = %v, want %v", ok, tc.ok)
			}
			if !ok && w.Code != http.StatusForbidden {
				t.Errorf("status %d, want 403", w.Code)
			}
		})
	}
}

// inboundForm is a text as Twilio posts it.
func inboundForm(sid, from, body string) url.Values {
	return url.Values{
		"MessageSid":  {sid},
		"SmsSid":      {sid},
		"AccountSid":  {testSID},
		"From":        {from},
		"To":          {testFrom},
		"Body":        {body},
		"NumMedia":    {"0"},
		"NumSegments": {"1"},
	}
}

func withMedia(f url.Values, n string) url.Values {
	f.Set("NumMedia", n)
	f.Set("MediaContentType0", "image/jpeg")
	f.Set("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages/MM1/Media/ME1")
	return f
}

// webhookRequest is a POST to path, signed for testPublic unless sig is
// given ("-" for no signature).
type webhookRequest struct {
	path string
	form url.Values
	raw  string // body instead of form
	sig  string
}

func (wr webhookRequest) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	body := wr.raw
	if body == "" {
		body = wr.form.Encode()
	}
	r := httptest.NewRequest(http.MethodPost, wr.path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch wr.sig {
	case "":
		r.Header.Set("X-Twilio-Signature", smstest.Sign(testToken, testPublic+wr.path, wr.form))
	case "-":
	default:
		r.Header.Set("X-Twilio-Signature", wr.sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestInbound(t *testing.T) {
	at := newTestClock().Now()
	in := func(sid, text string) bot.Inbound {
		return bot.Inbound{Channel: "sms", Address: testTo, MessageID: sid, Text: text, At: at}
	}
	big := inboundForm("SM1", testTo, strings.Repeat("x", 70<<10))
	tests := []struct {
		name      string
		reqs      []webhookRequest
		acceptErr error
		notRun    bool
		status    int
		twiml     bool
		want      []bot.Inbound
	}{
		{
			name:   "text",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "Hello")}},
			status: 200, twiml: true,
			want: []bot.Inbound{in("SM1", "Hello")},
		},
		{
			name:   "unicode text kept as sent",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "  مرحبا 👋 ")}},
			status: 200, twiml: true,
			want: []bot.Inbound{in("SM1", "  مرحبا 👋 ")},
		},
		{
			name:   "picture without text",
			reqs:   []webhookRequest{{path: InboundPath, form: withMedia(inboundForm("SM1", testTo, ""), "1")}},
			status: 200, twiml: true,
			want: []bot.Inbound{{Channel: "sms", Address: testTo, MessageID: "SM1", NotText: true, At: at}},
		},
		{
			name:   "picture with caption",
			reqs:   []webhookRequest{{path: InboundPath, form: withMedia(inboundForm("SM1", testTo, "look"), "1")}},
			status: 200, twiml: true,
			want: []bot.Inbound{in("SM1", "look")},
		},
		{
			name:   "stop keyword is still accepted",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "STOP")}},
			status: 200, twiml: true,
			want: []bot.Inbound{in("SM1", "STOP")},
		},
		{
			name: "duplicate message sid is forwarded",
			reqs: []webhookRequest{
				{path: InboundPath, form: inboundForm("SM1", testTo, "Hello")},
				{path: InboundPath, form: inboundForm("SM1", testTo, "Hello")},
			},
			status: 200, twiml: true,
			want: []bot.Inbound{in("SM1", "Hello"), in("SM1", "Hello")},
		},
		{
			name:   "bad signature",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "Hello"), sig: smstest.Sign("wrongtoken", testPublic+InboundPath, inboundForm("SM1", testTo, "Hello"))}},
			status: 403,
		},
		{
			name:   "signature for another body",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "Hello"), sig: smstest.Sign(testToken, testPublic+InboundPath, inboundForm("SM1", testTo, "Hallo"))}},
			status: 403,
		},
		{
			name:   "signature for another url",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "Hello"), sig: smstest.Sign(testToken, "http://lifeline.example.org"+InboundPath, inboundForm("SM1", testTo, "Hello"))}},
			status: 403,
		},
		{
			name:   "missing signature",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "Hello"), sig: "-"}},
			status: 403,
		},
		{
			name:   "oversized body",
			reqs:   []webhookRequest{{path: InboundPath, form: big}},
			status: 413,
		},
		{
			name:   "malformed form",
			reqs:   []webhookRequest{{path: InboundPath, raw: "MessageSid=SM1&Body=%zz", sig: "x"}},
			status: 400,
		},
		{
			name:   "no message sid",
			reqs:   []webhookRequest{{path: InboundPath, form: url.Values{"From": {testTo}, "Body": {"Hello"}}}},
			status: 400,
		},
		{
			name:   "invalid sender number",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", "+4477", "Hello")}},
			status: 200, twiml: true,
		},
		{
			name:   "number without plus",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", "447700900123", "Hello")}},
			status: 200, twiml: true,
		},
		{
			name:      "accept fails",
			reqs:      []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "Hello")}},
			acceptErr: errors.New("store down"),
			status:    503,
		},
		{
			name:   "channel not running",
			reqs:   []webhookRequest{{path: InboundPath, form: inboundForm("SM1", testTo, "Hello")}},
			notRun: true,
			status: 503,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestAdapter(t, nil, nil)
			rec := bottest.NewReceiver(func(int, bot.Inbound) error { return tc.acceptErr })
			if !tc.notRun {
				run(t, env.a, rec)
			}
			mux := http.NewServeMux()
			env.a.Register(mux)
			for i, req := range tc.reqs {
				w := req.do(t, mux)
				if w.Code != tc.status {
					t.Errorf("request %d: status %d, want %d (%s)", i, w.Code, tc.status, w.Body)
				}
				if tc.twiml {
					if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
						t.Errorf("request %d: content type %q", i, ct)
					}
					if w.Body.String() != `<?xml version="1.0" encoding="UTF-8"?><Response/>` {
						t.Errorf("request %d: body %q", i, w.Body)
					}
				} else if strings.Contains(w.Body.String(), "<Response") {
					t.Errorf("request %d: answered with TwiML on failure", i)
				}
			}
			got := rec.Accepted()
			if len(got) != len(tc.want) {
				t.Fatalf("accepted %d, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("accepted[%d] = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if tc.status != 200 && !strings.Contains(env.logs.String(), "level=") {
				t.Errorf("a rejected request left no log line")
			}
		})
	}
}

func TestInboundWrongMethod(t *testing.T) {
	env := newTestAdapter(t, nil, nil)
	mux := http.NewServeMux()
	env.a.Register(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, InboundPath, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", w.Code)
	}
}

func TestInboundWithoutPublicURL(t *testing.T) {
	// The signed URL is rebuilt from the request, honouring a proxy's
	// X-Forwarded-Proto.
	env := newTestAdapter(t, nil, func(c *Config) { c.PublicURL = "" })
	rec := bottest.NewReceiver(nil)
	run(t, env.a, rec)
	mux := http.NewServeMux()
	env.a.Register(mux)
	form := inboundForm("SM1", testTo, "Hello")
	r := httptest.NewRequest(http.MethodPost, "http://sms.example.net"+InboundPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Twilio-Signature", smstest.Sign(testToken, "https://sms.example.net"+InboundPath, form))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != 200 || len(rec.Accepted()) != 1 {
		t.Fatalf("status %d, accepted %d", w.Code, len(rec.Accepted()))
	}
}

func TestCarrierKeywordReplyDropped(t *testing.T) {
	// Twilio answers STOP and START itself: the turn's replies to them are
	// dropped for a while; any other text ends that.
	tests := []struct {
		name  string
		texts []string
		wait  time.Duration
		sends int // API requests for one Send after the texts
	}{
		{"stop", []string{"STOP"}, 0, 0},
		{"stop lower case with spaces", []string{"  stop \n"}, 0, 0},
		{"unsubscribe", []string{"Unsubscribe"}, 0, 0},
		{"start", []string{"START"}, 0, 0},
		{"yes", []string{"yes"}, time.Minute, 0},
		{"help is ours to answer", []string{"HELP"}, 0, 1},
		{"stop in a sentence", []string{"please stop them"}, 0, 1},
		{"keyword then text", []string{"STOP", "hello"}, 0, 1},
		{"after the ttl", []string{"STOP"}, 3 * time.Minute, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mocks map[string][]mock
			if tc.sends > 0 {
				mocks = map[string][]mock{"POST " + messagesPath: created()}
			}
			env := newTestAdapter(t, mocks, nil)
			rec := bottest.NewReceiver(nil)
			run(t, env.a, rec)
			mux := http.NewServeMux()
			env.a.Register(mux)
			for i, text := range tc.texts {
				w := webhookRequest{path: InboundPath, form: inboundForm("SM"+string(rune('A'+i)), testTo, text)}.do(t, mux)
				if w.Code != 200 {
					t.Fatalf("inbound %q: status %d", text, w.Code)
				}
			}
			if n := len(rec.Accepted()); n != len(tc.texts) {
				t.Fatalf("accepted %d texts, want %d", n, len(tc.texts))
			}
			env.clock.Add(tc.wait)
			if _, err := env.a.Send(context.Background(), testTo, bot.Outbound{Text: "You will not get more messages."}); err != nil {
				t.Fatal(err)
			}
			if n := len(env.api.Requests()); n != tc.sends {
				t.Errorf("%d API requests, want %d", n, tc.sends)
			}
		})
	}
}

func TestIsCarrierKeyword(t *testing.T) {
	for _, w := range []string{"STOP", "stop", " Stop ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "START", "UNSTOP", "YES"} {
		if !IsCarrierKeyword(w) {
			t.Errorf("IsCarrierKeyword(%q) = false", w)
		}
	}
	for _, w := range []string{"HELP", "INFO", "stop it", "", "1", "STOP!", "yes please"} {
		if IsCarrierKeyword(w) {
			t.Errorf("IsCarrierKeyword(%q) = true", w)
		}
	}
}

func TestStatusCallback(t *testing.T) {
	type call struct {
		address               string
		unreachable, optedOut bool
	}
	report := func(status, code string) url.Values {
		f := url.Values{
			"MessageSid":    {"SM1"},
			"AccountSid":    {testSID},
			"From":          {testFrom},
			"To":            {testTo},
			"MessageStatus": {status},
			"SmsStatus":     {status},
		}
		if code != "" {
			f.Set("ErrorCode", code)
		}
		return f
	}
	tests := []struct {
		name   string
		req    webhookRequest
		noHook bool
		status int
		want   []call
	}{
		{"delivered", webhookRequest{path: StatusPath, form: report("delivered", "")}, false, 200, nil},
		{"sent", webhookRequest{path: StatusPath, form: report("sent", "")}, false, 200, nil},
		{"unknown handset 30003", webhookRequest{path: StatusPath, form: report("undelivered", "30003")}, false, 200, []call{{testTo, true, false}}},
		{"unreachable 30005", webhookRequest{path: StatusPath, form: report("undelivered", "30005")}, false, 200, []call{{testTo, true, false}}},
		{"landline 30006", webhookRequest{path: StatusPath, form: report("undelivered", "30006")}, false, 200, []call{{testTo, true, false}}},
		{"invalid 21211", webhookRequest{path: StatusPath, form: report("failed", "21211")}, false, 200, []call{{testTo, true, false}}},
		{"opted out 21610", webhookRequest{path: StatusPath, form: report("failed", "21610")}, false, 200, []call{{testTo, false, true}}},
		{"carrier filtered 30007 is not final", webhookRequest{path: StatusPath, form: report("undelivered", "30007")}, false, 200, nil},
		{"no hook set", webhookRequest{path: StatusPath, form: report("undelivered", "30003")}, true, 200, nil},
		{"bad signature", webhookRequest{path: StatusPath, form: report("undelivered", "30003"), sig: "bm9wZQ=="}, false, 403, nil},
		{"oversized", webhookRequest{path: StatusPath, form: url.Values{"X": {strings.Repeat("x", 65<<10)}}}, false, 413, nil},
		{"malformed", webhookRequest{path: StatusPath, raw: "MessageStatus=%", sig: "x"}, false, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestAdapter(t, nil, nil)
			var mu sync.Mutex
			var calls []call
			if !tc.noHook {
				env.a.OnStatus = func(_ context.Context, address string, unreachable, optedOut bool) {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, call{address, unreachable, optedOut})
				}
			}
			mux := http.NewServeMux()
			env.a.Register(mux)
			w := tc.req.do(t, mux)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(calls, tc.want) {
				t.Errorf("OnStatus calls %+v, want %+v", calls, tc.want)
			}
		})
	}
}
