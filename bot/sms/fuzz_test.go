package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
)

// Fuzz tests for where Twilio's input enters: the webhook forms, the phone
// numbers in them, and the segment arithmetic every outgoing text goes
// through. Run one with
//
//	go test -run XXX -fuzz FuzzInboundForm -fuzztime 10m -parallel 1 ./bot/sms/
//
// Plain go test runs only the seeds (f.Add and testdata/fuzz/<name>/).

// twilioForm is a text as Twilio really posts it, with every field.
func twilioForm(from, body string, media int) url.Values {
	f := url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"NumMedia": {strconv.Itoa(media)}, "ToCity": {""}, "FromZip": {""}, "SmsSid": {"SM0123456789abcdef0123456789abcdef"},
		"FromState": {""}, "SmsStatus": {"received"}, "FromCity": {""}, "Body": {body}, "FromCountry": {"GB"},
		"To": {testFrom}, "MessagingServiceSid": {testService}, "ToZip": {""}, "NumSegments": {"1"},
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "AccountSid": {testSID}, "From": {from}, "ApiVersion": {"2010-04-01"},
	}
	for i := range media {
		n := strconv.Itoa(i)
		f.Set("MediaContentType"+n, "image/jpeg")
		f.Set("MediaUrl"+n, "https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages/MM1/Media/ME"+n)
	}
	return f
}

// statusForm is a delivery report as Twilio posts it.
func statusForm(to, status, code string) url.Values {
	f := url.Values{
		"SmsSid": {"SM1"}, "SmsStatus": {status}, "MessageStatus": {status}, "To": {to},
		"MessagingServiceSid": {testService}, "MessageSid": {"SM1"}, "AccountSid": {testSID},
		"From": {testFrom}, "ApiVersion": {"2010-04-01"},
	}
	if code != "" {
		f.Set("ErrorCode", code)
	}
	return f
}

// formRig is one running adapter for a fuzzing process; inputs run one at
// a time.
type formRig struct {
	mux  *http.ServeMux
	a    *Adapter
	rec  *bottest.Receiver
	logs *bottest.Buffer
	// status records OnStatus calls.
	mu     sync.Mutex
	status []string
	clock  *bottest.Clock
}

func newFormRig(f *testing.F) *formRig {
	f.Helper()
	rig := &formRig{mux: http.NewServeMux(), rec: bottest.NewReceiver(nil), logs: &bottest.Buffer{}, clock: newTestClock()}
	logger := slog.New(slog.NewJSONHandler(rig.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: testFrom, PublicURL: testPublic,
		APIURL: "http://127.0.0.1:9"}, logger, WithClock(rig.clock.Now), WithTransport(smstest.LocalOnly("127.0.0.1:9")))
	if err != nil {
		f.Fatal(err)
	}
	a.OnStatus = func(_ context.Context, address string, unreachable, optedOut bool) {
		rig.mu.Lock()
		defer rig.mu.Unlock()
		rig.status = append(rig.status, fmt.Sprintf("%s %v %v", address, unreachable, optedOut))
	}
	a.Register(rig.mux)
	rig.a = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx, rig.rec)
	}()
	f.Cleanup(func() {
		cancel()
		<-done
	})
	for a.currentReceiver() == nil {
		time.Sleep(time.Millisecond)
	}
	return rig
}

// post sends raw as a form to path, signed as Twilio signs what it posts.
func (rig *formRig) post(path, raw string, form url.Values) *httptest.ResponseRecorder {
	rig.logs.Reset()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(raw))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", smstest.Sign(testToken, testPublic+path, form))
	w := httptest.NewRecorder()
	rig.mux.ServeHTTP(w, r)
	return w
}

// checkLogs fails t if the log of one request shows any of private. Only
// attributes known to hold nothing personal (ids, statuses, codes, Go's
// form parsing error) are exempt, after checking that they hold what they
// should.
func checkLogs(t *testing.T, logs, path string, form url.Values, parseErr error, private []string) {
	t.Helper()
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		for k, v := range rec {
			s := fmt.Sprint(v)
			switch k {
			case "time", "level":
				continue
			case "msg":
				// Messages are constants; a long private string inside
				// one was put there.
				for _, p := range private {
					if len(p) >= 16 && strings.Contains(s, p) {
						t.Errorf("log message holds private data %q: %s", p, line)
					}
				}
				continue
			case "message_sid", "message_status":
				// Twilio's id and its word for the delivery, as posted.
				if f := loggedForm[k]; s != asLogged(form.Get(f)) {
					t.Errorf("%s %q, want the form's %s %q", k, s, f, form.Get(f))
				}
				continue
			case "path":
				if s != path {
					t.Errorf("path %q, want %q", s, path)
				}
				continue
			case "error_code":
				if code, _ := strconv.Atoi(form.Get("ErrorCode")); v != float64(code) {
					t.Errorf("error_code %v, want the form's %d", v, code)
				}
				continue
			case "signature_present":
				continue
			case "error":
				if parseErr != nil && s == parseErr.Error() {
					continue
				}
			}
			for _, p := range private {
				if len(p) >= 4 && strings.Contains(s, p) {
					t.Errorf("log attribute %s holds private data %q: %s", k, p, line)
				}
			}
		}
	}
}

// loggedForm names the form field a log attribute copies.
var loggedForm = map[string]string{"message_sid": "MessageSid", "message_status": "MessageStatus"}

// asLogged is s as a JSON log shows it: invalid UTF-8 replaced.
func asLogged(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// private lists what of form must never be logged: the numbers, as sent
// and normalised, and the text.
func private(form url.Values) []string {
	var out []string
	for _, k := range []string{"From", "To", "Body"} {
		v := form.Get(k)
		out = append(out, v)
		if k == "Body" {
			continue
		}
		if n, err := NormalizeE164(v); err == nil && n != testFrom {
			out = append(out, n, n[1:])
		}
	}
	// The service's own number is not personal.
	for i, p := range out {
		if p == testFrom || p == testFrom[1:] {
			out[i] = ""
		}
	}
	for _, p := range out {
		if l := asLogged(p); l != p {
			out = append(out, l)
		}
	}
	return out
}

func FuzzInboundForm(f *testing.F) {
	forms := []url.Values{
		twilioForm(testTo, "Hello", 0),
		twilioForm(testTo, "STOP", 0),
		twilioForm(testTo, "  stop \n", 0),
		twilioForm("+977 980-123-4567", "मलाई मद्दत चाहिन्छ", 0),
		twilioForm("٠٠٩٧١٥٠١٢٣٤٥٦٧", "أحتاج مساعدة ١", 0),
		twilioForm("＋４４７７００９００１２３", "Мне нужна помощь", 0),
		twilioForm("+63 917 123 4567", "Tulong po 🙏🏽 🇵🇭", 0),
		twilioForm(testTo, "", 1),
		twilioForm(testTo, "my passport", 2),
		twilioForm(testTo, strings.Repeat("Nao tenho o meu passaporte. ", 60), 0),
		twilioForm("+4477", "Hello", 0),
		twilioForm("whatsapp:+447700900123", "Hello", 0),
		twilioForm("", "", 0),
		{"From": {testTo}, "Body": {"no sid"}},
		{"MessageSid": {"SM1"}, "From": {testTo}, "Body": {"a", "b"}, "NumMedia": {"-1", "3"}},
		{"MessageSid": {testTo}, "From": {testTo}, "Body": {testTo}},
	}
	for _, form := range forms {
		f.Add(form.Encode())
	}
	for _, raw := range []string{
		"",
		"MessageSid=SM1&From=%2B447700900123&Body=caf%C3%A9+%E2%82%AC",
		"MessageSid=SM1&From=%2B447700900123&Body=%FF%FE%00",
		"MessageSid=SM1&From=%2B447700900123&Body=%zz",
		"MessageSid=SM1;From=%2B447700900123",
		"MessageSid=SM1&From=+447700900123&Body=plus+is+a+space",
		"MessageSid=SM1&From=%2B447700900123&NumMedia=99999999999999999999&Body=",
		"MessageSid=SM1&&&=&From=%2B447700900123&Body==",
		"MessageSid=SM1&From=%2B4477009001231234567890&Body=long+number",
		"\x00\xff\x89PNG\r\n\x1a\n",
		strings.Repeat("a=b&", 20000),
		"MessageSid=SM1&From=%2B447700900123&Body=" + strings.Repeat("x", 64<<10),
		statusForm(testTo, "undelivered", "30003").Encode(),
		statusForm(testTo, "failed", "21610").Encode(),
		statusForm("+4477", "failed", "21211").Encode(),
		statusForm(testTo, "delivered", "").Encode(),
	} {
		f.Add(raw)
	}
	rig := newFormRig(f)
	f.Fuzz(func(t *testing.T, raw string) {
		rig.clock.Add(time.Second)
		form, parseErr := url.ParseQuery(raw)
		rig.rec.Reset()
		w := rig.post(InboundPath, raw, form)

		got := rig.rec.Accepted()
		want := wantInbound(raw, form, parseErr)
		if want.in != nil {
			want.in.At = rig.clock.Now()
		}
		if w.Code != want.status {
			t.Fatalf("inbound: status %d, want %d (%s)", w.Code, want.status, w.Body)
		}
		switch {
		case want.status == http.StatusOK:
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") || w.Body.String() != emptyTwiML {
				t.Errorf("inbound: answered %q %q, want empty TwiML", ct, w.Body)
			}
		case strings.Contains(w.Body.String(), "<Response"):
			t.Errorf("inbound: answered TwiML with %d", w.Code)
		}
		if w.Code != http.StatusOK && rig.logs.String() == "" {
			t.Errorf("inbound: refused with %d and logged nothing", w.Code)
		}
		switch {
		case want.in == nil && len(got) > 0:
			t.Errorf("inbound: accepted %+v, want nothing", got)
		case want.in != nil && (len(got) != 1 || got[0] != *want.in):
			t.Errorf("inbound: accepted %+v, want %+v", got, *want.in)
		}
		checkLogs(t, rig.logs.String(), InboundPath, form, parseErr, private(form))

		// The same body as a delivery report.
		rig.mu.Lock()
		rig.status = nil
		rig.mu.Unlock()
		w = rig.post(StatusPath, raw, form)
		rig.mu.Lock()
		calls := rig.status
		rig.mu.Unlock()
		wantStatus := want.status
		if wantStatus == http.StatusBadRequest && parseErr == nil {
			wantStatus = http.StatusOK // a report needs no MessageSid
		}
		if w.Code != wantStatus {
			t.Fatalf("status: status %d, want %d (%s)", w.Code, wantStatus, w.Body)
		}
		var wantCalls []string
		if wantStatus == http.StatusOK {
			code, _ := strconv.Atoi(form.Get("ErrorCode"))
			if to, err := NormalizeE164(form.Get("To")); err == nil && (code == codeOptedOut || unreachableCodes[code]) {
				wantCalls = []string{fmt.Sprintf("%s %v %v", to, unreachableCodes[code], code == codeOptedOut)}
			}
		}
		if fmt.Sprint(calls) != fmt.Sprint(wantCalls) {
			t.Errorf("status: OnStatus calls %q, want %q", calls, wantCalls)
		}
		checkLogs(t, rig.logs.String(), StatusPath, form, parseErr, private(form))
	})
}

type inboundWant struct {
	status int
	in     *bot.Inbound
}

// wantInbound is what the inbound webhook should make of a signed body.
func wantInbound(raw string, form url.Values, parseErr error) inboundWant {
	switch {
	case len(raw) > maxWebhookBody:
		return inboundWant{status: http.StatusRequestEntityTooLarge}
	case parseErr != nil || form.Get("MessageSid") == "":
		return inboundWant{status: http.StatusBadRequest}
	}
	from, err := NormalizeE164(form.Get("From"))
	if err != nil {
		return inboundWant{status: http.StatusOK}
	}
	media, _ := strconv.Atoi(form.Get("NumMedia"))
	body := form.Get("Body")
	return inboundWant{status: http.StatusOK, in: &bot.Inbound{
		Channel:   "sms",
		Address:   from,
		MessageID: form.Get("MessageSid"),
		Text:      body,
		NotText:   media > 0 && strings.TrimSpace(body) == "",
		At:        time.Time{}, // filled in by the caller
	}}
}

var e164 = regexp.MustCompile(`^\+[0-9]{8,15}$`)

func FuzzNormalizeE164(f *testing.F) {
	for _, s := range []string{
		"+447700900123", "+44 7700 900123", "+1 (415) 867-5309", "+44 (0) 7700 900123", "+977.980.123.4567",
		"00447700900123", "+44\u00a07700\u2013900123", "\u202a+971 50 123 4567\u202c", "＋４４７７００９００１２３",
		"٠٠٩٧١٥٠١٢٣٤٥٦٧", "+۹۸۹۱۲۳۴۵۶۷۸۹", "+९७७ ९८०१२३४५६७", "+৮৮০১৭১২৩৪৫৬৭৮", "+๖๖๘๑๒๓๔๕๖๗๘",
		"+𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "+12345678", "+123456789012345", "+1234567", "+1234567890123456", "447700900123",
		"07700 900123", "+0447700900123", "+44+7700900123", "44+7700900123", "+44 7700 HELLO",
		"whatsapp:+447700900123", "", "+", "00", "000", "+(0)", "(0)(0)+44(0)7700900123", "0(0)0447700900123",
		"+4\u0300477009001", "\xff+447700900123", "+44\x007700900123", "+١٢٣٤٥٦٧٨٩٠١٢٣٤٥",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeE164(s)
		if err != nil {
			if err != ErrInvalidNumber || got != "" {
				t.Fatalf("NormalizeE164(%q) = %q, %v", s, got, err)
			}
			if e164.MatchString(s) && s[1] != '0' {
				t.Errorf("NormalizeE164 refused %q, already E.164", s)
			}
			return
		}
		if !e164.MatchString(got) || got[1] == '0' {
			t.Fatalf("NormalizeE164(%q) = %q, not E.164", s, got)
		}
		if again, err := NormalizeE164(got); err != nil || again != got {
			t.Errorf("NormalizeE164(%q) = %q, %v; not stable", got, again, err)
		}
	})
}

// units is text's size in its encoding: septets for GSM-7 (an extension
// character takes two), UTF-16 code units for UCS-2. Counted here apart
// from segments.go's cluster walk.
func units(text string) (n int, gsm bool) {
	if Encoding(text) {
		for _, r := range text {
			n++
			if strings.ContainsRune(gsmExtension, r) {
				n++
			}
		}
		return n, true
	}
	return len(utf16.Encode([]rune(text))), false
}

func FuzzSegments(f *testing.F) {
	family := "👨\u200d👩\u200d👧\u200d👦"
	for _, s := range []string{
		"", " ", "Hello there", strings.Repeat("a", 160), strings.Repeat("a", 161), strings.Repeat("€", 80),
		strings.Repeat("word ", 200), strings.Repeat("x", 500), strings.Repeat("слово ", 100),
		strings.Repeat(family, 40), strings.Repeat("น้ำ", 300), strings.Repeat("a\u00a0", 300),
		strings.Repeat("مرحبا بك ", 40), strings.Repeat("नमस्ते दुनिया ", 30), strings.Repeat("你好世界", 80),
		strings.Repeat("🇳🇵🇺🇦", 60), strings.Repeat(" \n\t\r", 200), "\r\n" + strings.Repeat("b", 470),
		"e" + strings.Repeat("\u0301", 300), strings.Repeat("a\u200d", 150), "\xff\xfe" + strings.Repeat("z", 470),
		strings.Repeat("Your passport belongs to you. ", 20),
		strings.Repeat("x", 458) + " " + strings.Repeat("y", 10),
	} {
		f.Add(s)
	}
	const max = 3
	f.Fuzz(func(t *testing.T, s string) {
		n := Segments(s)
		checkSegments(t, s, n)
		parts := Split(s, max)
		if n <= max {
			if len(parts) != 1 || parts[0] != s {
				t.Fatalf("text of %d segments split into %q", n, parts)
			}
			return
		}
		if strings.TrimSpace(s) != "" && len(parts) == 0 {
			t.Fatalf("text of %d segments gave no parts", n)
		}
		// Parts fit, are not empty, end between grapheme clusters, and
		// joined give s back but for white space at the cuts.
		starts := map[int]bool{len(s): true}
		off := 0
		for c := range clusters(s) {
			starts[off] = true
			off += len(c)
		}
		rest := s
		for i, p := range parts {
			if strings.TrimSpace(p) == "" {
				t.Fatalf("part %d of %d is blank: %q", i, len(parts), p)
			}
			pn := Segments(p)
			if pn > max {
				t.Errorf("part %d takes %d segments", i, pn)
			}
			checkSegments(t, p, pn)
			trimmed := strings.TrimLeftFunc(rest, unicode.IsSpace)
			if !strings.HasPrefix(trimmed, p) {
				t.Fatalf("part %d %q is not the next piece of the text", i, p)
			}
			if at := len(s) - len(trimmed) + len(p); !starts[at] {
				t.Errorf("part %d ends inside a grapheme cluster", i)
			}
			rest = trimmed[len(p):]
			first, _ := utf8.DecodeRuneInString(p)
			last, _ := utf8.DecodeLastRuneInString(p)
			if unicode.IsSpace(first) || unicode.IsSpace(last) {
				t.Errorf("part %d starts or ends with white space: %q", i, p)
			}
		}
		if strings.TrimSpace(rest) != "" {
			t.Fatalf("text left after the last part: %q", rest)
		}
	})
}

// checkSegments checks a segment count n for text against the text's size:
// one segment holds 160 septets or 70 code units, each part of a longer
// message 153 or 67, and clusters kept whole can only add segments.
func checkSegments(t *testing.T, text string, n int) {
	t.Helper()
	u, gsm := units(text)
	single, multi := ucs2Single, ucs2Multi
	if gsm {
		single, multi = gsmSingle, gsmMulti
	}
	switch {
	case n < 1:
		t.Errorf("Segments(%q) = %d", text, n)
	case u <= single && n != 1:
		t.Errorf("%d units in %d segments, want 1", u, n)
	case u > single && n < (u+multi-1)/multi:
		t.Errorf("%d units (gsm %v) in %d segments: they need at least %d", u, gsm, n, (u+multi-1)/multi)
	case u > single && n > u:
		t.Errorf("%d units in %d segments", u, n)
	}
}
