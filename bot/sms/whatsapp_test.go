package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

const (
	testWAFrom   = "whatsapp:+15005550006"
	testCheckin  = "HX0123456789abcdef0123456789abcdef"
	testBcastSID = "HXfedcba9876543210fedcba9876543210"
	testButtons  = "HX00112233445566778899aabbccddeeff"
	testList     = "HXffeeddccbbaa99887766554433221100"
)

var testTemplates = Templates{
	"checkin":   {"en": {ContentSID: testCheckin, Variables: []string{"text", "options"}}},
	"broadcast": {"es": {ContentSID: testBcastSID}},
	"choices_3": {"any": {ContentSID: testButtons, Variables: []string{"text", "option1", "option2", "option3"}}},
	"choices_4": {"any": {ContentSID: testList, Variables: []string{"text", "option1", "option2", "option3", "option4"}}},
}

// whatsApp edits a test config into the WhatsApp channel's.
func whatsApp(c *Config) { c.From, c.Templates = testWAFrom, testTemplates }

// withForm sets pairs of keys and values on f.
func withForm(f url.Values, kv ...string) url.Values {
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func waForm(sid, body string) url.Values {
	f := inboundForm(sid, WhatsAppPrefix+testTo, body)
	f.Set("To", testWAFrom)
	return f
}

func TestWhatsAppInbound(t *testing.T) {
	at := newTestClock().Now()
	loc := waForm("SM3", "")
	loc.Set("Latitude", "51.5")
	loc.Set("Longitude", "-0.1")
	tests := []struct {
		name   string
		req    webhookRequest
		status int
		want   []bot.Inbound
	}{
		{"text", webhookRequest{path: WhatsAppInboundPath, form: waForm("SM1", "Hola")}, 200,
			[]bot.Inbound{{Channel: "whatsapp", Address: testTo, MessageID: "SM1", Text: "Hola", At: at}}},
		{"photo with caption is not text", webhookRequest{path: WhatsAppInboundPath, form: withMedia(waForm("SM2", "look"), "1")}, 200,
			[]bot.Inbound{{Channel: "whatsapp", Address: testTo, MessageID: "SM2", Text: "look", NotText: true, At: at}}},
		{"location", webhookRequest{path: WhatsAppInboundPath, form: loc}, 200,
			[]bot.Inbound{{Channel: "whatsapp", Address: testTo, MessageID: "SM3", NotText: true, At: at}}},
		{"a button is its digit", webhookRequest{path: WhatsAppInboundPath, form: withForm(waForm("SM8", "Not well"), "ButtonText", "Not well", "ButtonPayload", "2")}, 200,
			[]bot.Inbound{{Channel: "whatsapp", Address: testTo, MessageID: "SM8", Text: "2", At: at}}},
		{"a list item is its digit", webhookRequest{path: WhatsAppInboundPath, form: withForm(waForm("SM9", "Your documents"), "ListId", "10", "ListTitle", "Your documents")}, 200,
			[]bot.Inbound{{Channel: "whatsapp", Address: testTo, MessageID: "SM9", Text: "10", At: at}}},
		{"a foreign button is its words", webhookRequest{path: WhatsAppInboundPath, form: withForm(waForm("SM10", "Yes please"), "ButtonText", "Yes please", "ButtonPayload", "promo-7")}, 200,
			[]bot.Inbound{{Channel: "whatsapp", Address: testTo, MessageID: "SM10", Text: "Yes please", At: at}}},
		{"HELP reaches the runtime as text", webhookRequest{path: WhatsAppInboundPath, form: waForm("SM4", "HELP")}, 200,
			[]bot.Inbound{{Channel: "whatsapp", Address: testTo, MessageID: "SM4", Text: "HELP", At: at}}},
		{"a plain number is not a whatsapp address", webhookRequest{path: WhatsAppInboundPath, form: inboundForm("SM5", testTo, "hi")}, 200, nil},
		{"bad signature", webhookRequest{path: WhatsAppInboundPath, form: waForm("SM6", "hi"), sig: "bm9wZQ=="}, 403, nil},
		{"no sms path on the whatsapp channel", webhookRequest{path: InboundPath, form: waForm("SM7", "hi")}, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestAdapter(t, nil, whatsApp)
			if env.a.Name() != "whatsapp" {
				t.Fatalf("name %q", env.a.Name())
			}
			rec := bottest.NewReceiver(nil)
			run(t, env.a, rec)
			mux := http.NewServeMux()
			env.a.Register(mux)
			if w := tc.req.do(t, mux); w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			got := rec.Accepted()
			if len(got) != len(tc.want) {
				t.Fatalf("accepted %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("accepted[%d] = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestWhatsAppStopAnswered: Twilio does not answer STOP on WhatsApp, so
// the runtime's answer to it is sent.
func TestWhatsAppStopAnswered(t *testing.T) {
	env := newTestAdapter(t, map[string][]mock{"POST " + messagesPath: created()}, whatsApp)
	run(t, env.a, bottest.NewReceiver(nil))
	mux := http.NewServeMux()
	env.a.Register(mux)
	if w := (webhookRequest{path: WhatsAppInboundPath, form: waForm("SM1", "STOP")}).do(t, mux); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if _, err := env.a.Send(context.Background(), testTo, bot.Outbound{Text: "You will get no more messages."}); err != nil {
		t.Fatal(err)
	}
	if n := len(env.api.Requests()); n != 1 {
		t.Fatalf("%d requests, want the answer to STOP", n)
	}
}

func TestWhatsAppSend(t *testing.T) {
	now := newTestClock().Now()
	recent := now.Add(-23 * time.Hour).UnixMilli()
	old := now.Add(-25 * time.Hour).UnixMilli()
	opts := []bot.OutOption{{ID: "a", Label: "Fine"}, {ID: "b", Label: "Not\nwell"}}
	three := append(opts[:2:2], bot.OutOption{ID: "c", Label: "Later"})
	four := append(three[:3:3], bot.OutOption{ID: "d", Label: "Your documents, please"})
	long := append(opts[:2:2], bot.OutOption{ID: "c", Label: "A label over twenty c"})
	tests := []struct {
		name     string
		msg      bot.Outbound
		mocks    []mock
		want     url.Values // the one request's form, but StatusCallback
		skipped  int64
		wantCode int
	}{
		{"reply is free-form", bot.Outbound{Text: "Hello", Options: opts}, created(),
			url.Values{"To": {"whatsapp:" + testTo}, "From": {testWAFrom}, "Body": {"Hello\n1 Fine\n2 Not\nwell"}}, 0, 0},
		{"three options are buttons", bot.Outbound{Text: "How are\nyou?", Options: three}, created(),
			url.Values{"To": {"whatsapp:" + testTo}, "From": {testWAFrom}, "ContentSid": {testButtons},
				"ContentVariables": {`{"1":"How are\nyou?","2":"Fine","3":"Not well","4":"Later"}`}}, 0, 0},
		{"four options are a list", bot.Outbound{Text: "Topics", Options: four, Purpose: "checkin", Lang: "en", Last: recent}, created(),
			url.Values{"To": {"whatsapp:" + testTo}, "From": {testWAFrom}, "ContentSid": {testList},
				"ContentVariables": {`{"1":"Topics","2":"Fine","3":"Not well","4":"Later","5":"Your documents, please"}`}}, 0, 0},
		{"a button title over 20 characters: numbered text", bot.Outbound{Text: "Hi", Options: long}, created(),
			url.Values{"To": {"whatsapp:" + testTo}, "From": {testWAFrom}, "Body": {"Hi\n1 Fine\n2 Not\nwell\n3 A label over twenty c"}}, 0, 0},
		{"check-in within the window is free-form", bot.Outbound{Text: "How are you?", Purpose: "checkin", Lang: "en", Last: recent}, created(),
			url.Values{"To": {"whatsapp:" + testTo}, "From": {testWAFrom}, "Body": {"How are you?"}}, 0, 0},
		{"check-in outside the window is its template", bot.Outbound{Text: "How are\nyou?", Options: opts, Purpose: "checkin", Lang: "en", Last: old}, created(),
			url.Values{"To": {"whatsapp:" + testTo}, "From": {testWAFrom}, "ContentSid": {testCheckin},
				"ContentVariables": {`{"1":"How are you?","2":"1 Fine, 2 Not well"}`}}, 0, 0},
		{"never wrote counts as outside", bot.Outbound{Text: "News", Purpose: "broadcast", Lang: "es"}, created(),
			url.Values{"To": {"whatsapp:" + testTo}, "From": {testWAFrom}, "ContentSid": {testBcastSID}}, 0, 0},
		{"no template for the language: skipped", bot.Outbound{Text: "News", Purpose: "broadcast", Lang: "en", Last: old}, nil, nil, 1, 0},
		{"no template for the purpose: skipped", bot.Outbound{Text: "Job", Purpose: "job", Lang: "en", Last: old}, nil, nil, 1, 0},
		{"outside the window at Twilio: not retried", bot.Outbound{Text: "Hi", Purpose: "checkin", Lang: "en", Last: recent},
			[]mock{{Status: 400, Body: `{"code":63016,"message":"outside window","status":400}`}}, nil, 0, 63016},
	}
	t.Run("buttons refused: numbered text", func(t *testing.T) {
		env := newTestAdapter(t, map[string][]mock{"POST " + messagesPath: append([]mock{{Status: 400, Body: `{"code":21656,"message":"bad variables","status":400}`}}, created()...)}, whatsApp)
		if _, err := env.a.Send(context.Background(), testTo, bot.Outbound{Text: "Hi", Options: three}); err != nil {
			t.Fatal(err)
		}
		reqs := env.api.Requests()
		if len(reqs) != 2 || reqs[0].Form.Get("ContentSid") != testButtons || reqs[1].Form.Get("Body") != "Hi\n1 Fine\n2 Not\nwell\n3 Later" {
			t.Errorf("requests %+v", reqs)
		}
		if !strings.Contains(env.logs.String(), "event=whatsapp_choices_rejected code=21656") {
			t.Errorf("log: %s", env.logs)
		}
	})
	t.Run("buttons rate-limited: retried later, not as text", func(t *testing.T) {
		env := newTestAdapter(t, map[string][]mock{"POST " + messagesPath: {{Status: 429, Body: `{"code":20429,"message":"slow","status":429}`}}}, whatsApp)
		_, err := env.a.Send(context.Background(), testTo, bot.Outbound{Text: "Hi", Options: three})
		if se := bot.AsSendError(err); err == nil || !se.Retryable {
			t.Errorf("err %v", err)
		}
	})
	for _, tc := range []struct {
		code               int
		retry, unreachable bool
	}{{63014, false, true}, {63018, true, false}, {63024, false, true}, {63032, false, false}} {
		t.Run(fmt.Sprintf("error %d", tc.code), func(t *testing.T) {
			body := fmt.Sprintf(`{"code":%d,"message":"+447700900123","status":400}`, tc.code)
			env := newTestAdapter(t, map[string][]mock{"POST " + messagesPath: {{Status: 400, Body: body}}}, whatsApp)
			se := bot.AsSendError(func() error { _, err := env.a.Send(context.Background(), testTo, bot.Outbound{Text: "Hi"}); return err }())
			if se.Code != tc.code || se.Retryable != tc.retry || se.Unreachable != tc.unreachable || se.OptedOut {
				t.Errorf("send error %+v", se)
			}
			if strings.Contains(env.logs.String(), "447700900123") {
				t.Errorf("the log quotes Twilio's message: %s", env.logs)
			}
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mocks := map[string][]mock{}
			if tc.mocks != nil {
				mocks["POST "+messagesPath] = tc.mocks
			}
			env := newTestAdapter(t, mocks, whatsApp)
			_, err := env.a.Send(context.Background(), testTo, tc.msg)
			if tc.wantCode != 0 {
				se := bot.AsSendError(err)
				if err == nil || se.Code != tc.wantCode || se.Retryable {
					t.Fatalf("err %v, want code %d not retryable", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := env.a.Skipped(); got != tc.skipped {
				t.Errorf("skipped %d, want %d", got, tc.skipped)
			}
			if tc.skipped > 0 {
				if !strings.Contains(env.logs.String(), "event=whatsapp_no_template") || strings.Contains(env.logs.String(), "News") {
					t.Errorf("log: %s", env.logs)
				}
				return
			}
			reqs := env.api.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0].Form
			if got.Get("StatusCallback") != testPublic+WhatsAppStatusPath {
				t.Errorf("status callback %q", got.Get("StatusCallback"))
			}
			got.Del("StatusCallback")
			if got.Encode() != tc.want.Encode() {
				t.Errorf("sent %v\nwant %v", got, tc.want)
			}
			if v := got.Get("ContentVariables"); v != "" && !json.Valid([]byte(v)) {
				t.Errorf("variables not JSON: %s", v)
			}
		})
	}
}

func TestWhatsAppStatus(t *testing.T) {
	env := newTestAdapter(t, nil, whatsApp)
	var got []string
	env.a.OnStatus = func(_ context.Context, address string, unreachable, _ bool) {
		if unreachable {
			got = append(got, address)
		}
	}
	mux := http.NewServeMux()
	env.a.Register(mux)
	f := url.Values{"MessageSid": {"SM1"}, "From": {testWAFrom}, "To": {"whatsapp:" + testTo}, "MessageStatus": {"failed"}, "ErrorCode": {"63024"}}
	if w := (webhookRequest{path: WhatsAppStatusPath, form: f}).do(t, mux); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if len(got) != 1 || got[0] != testTo {
		t.Errorf("OnStatus got %v", got)
	}
}

func TestWhatsAppNew(t *testing.T) {
	for _, from := range []string{"whatsapp:15005550006", "whatsapp:+1 500 555 0006", "whatsapp:"} {
		if _, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: from}, nil); err == nil {
			t.Errorf("From %q accepted", from)
		}
	}
	if _, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: testWAFrom, MessagingServiceSID: testService}, nil); err == nil {
		t.Error("a messaging service accepted with a whatsapp sender")
	}
}

func TestParseTemplates(t *testing.T) {
	good := "checkin:\n  en: {sid: " + testCheckin + ", variables: [text]}\n  es: {sid: " + testCheckin + "}\n"
	tpl, err := ParseTemplates([]byte(good))
	if err != nil || tpl["checkin"]["es"].ContentSID != testCheckin || tpl["checkin"]["en"].Variables[0] != "text" {
		t.Fatalf("%+v %v", tpl, err)
	}
	choices := "choices_2:\n  any: {sid: " + testCheckin + ", variables: [text, option1, option2]}\n"
	if tpl, err := ParseTemplates([]byte(choices)); err != nil || len(tpl[ChoicesPurpose(2)][AnyLanguage].Variables) != 3 {
		t.Errorf("choices: %+v %v", tpl, err)
	}
	for _, bad := range []string{
		"choices_11:\n  any: {sid: " + testCheckin + "}\n",
		"choices_02:\n  any: {sid: " + testCheckin + ", variables: [option1, option2]}\n",
		"choices_2:\n  en: {sid: " + testCheckin + ", variables: [option1, option2]}\n",
		"choices_2:\n  any: {sid: " + testCheckin + ", variables: [text, option1]}\n",
		"choices_2:\n  any: {sid: " + testCheckin + ", variables: [option1, option2, option3]}\n",
		"checkin:\n  en: {sid: " + testCheckin + ", variables: [text, option1]}\n",
		"checkin:\n  en: {sid: SM123}\n",
		"checkin:\n  en: {sid: " + testCheckin + ", variables: [name]}\n",
		"checkin: [1, 2]\n",
	} {
		if _, err := ParseTemplates([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	dir := t.TempDir()
	if tpl, err := LoadTemplates(filepath.Join(dir, "none.yaml")); err != nil || tpl != nil {
		t.Errorf("missing file: %v %v", tpl, err)
	}
	p := filepath.Join(dir, "t.yaml")
	os.WriteFile(p, []byte("checkin:\n  en: {sid: nope}\n"), 0o644)
	if _, err := LoadTemplates(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("bad file: %v", err)
	}
}

// TestWhatsAppOwnWords: on WhatsApp, CLEAR's answer and the privacy
// notice's details are WhatsApp's own, in every language, and both the
// runtime's ids they replace and their own exist; SMS keeps the runtime's.
func TestWhatsAppOwnWords(t *testing.T) {
	cat := bottest.Content(t).Catalog
	words := newTestAdapter(t, nil, whatsApp).a.OwnWords()
	if len(words) != 2 {
		t.Fatalf("own words %v", words)
	}
	for from, to := range words {
		for _, id := range []string{from, to} {
			if missing := cat.Missing(id); len(missing) > 0 || cat.Raw("en", id) == "" {
				t.Errorf("%s: missing in %v", id, missing)
			}
		}
		for _, lang := range cat.Languages() {
			if strings.Contains(cat.Raw(lang, to), "CLEAR") || !strings.Contains(cat.Raw(lang, to), "WhatsApp") && !strings.Contains(cat.Raw(lang, to), "واتساب") {
				t.Errorf("%s/%s does not speak of WhatsApp: %q", to, lang, cat.Raw(lang, to))
			}
		}
	}
	if w := newTestAdapter(t, nil, nil).a.OwnWords(); w != nil {
		t.Errorf("sms own words %v", w)
	}
}
