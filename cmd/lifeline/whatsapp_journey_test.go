package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

const (
	waSender       = "whatsapp:+15005550006"
	waCheckinSID   = "HX0123456789abcdef0123456789abcdef"
	waTemplateFile = "checkin:\n  en: {sid: " + waCheckinSID + ", variables: [text, options]}\n"
	// waChoicesFile makes the privacy notice's three choices buttons and
	// the eight languages a list; other menus stay numbered.
	waChoicesFile = "choices_3:\n  any: {sid: HX00112233445566778899aabbccddeeff, variables: [text, option1, option2, option3]}\n" +
		"choices_8:\n  any: {sid: HXffeeddccbbaa99887766554433221100, variables: [text, option1, option2, option3, option4, option5, option6, option7, option8]}\n"
)

// waPerson is one person writing to lifeline's WhatsApp webhook.
type waPerson struct {
	t       *testing.T
	twilio  *smstest.Server
	public  string
	token   string
	number  string
	written *int
}

// forms are the requests twilio received for p, as their forms.
func (p waPerson) forms() []url.Values {
	var out []url.Values
	for _, r := range p.twilio.Requests() {
		if r.Form.Get("To") == "whatsapp:"+p.number {
			out = append(out, r.Form)
		}
	}
	return out
}

// write sends body as p and waits for a reply holding want.
func (p waPerson) write(body, want string) { p.t.Helper(); p.post(want, "Body", body) }

// tap taps the button or list item labelled label in p's newest message,
// or types its digit when that came as a numbered list, and waits for a
// reply holding want.
func (p waPerson) tap(label, want string) {
	p.t.Helper()
	var digit string
	var content, ok bool
	// The message with the options may follow the one the last step
	// waited for.
	waitFor(p.t, "an option "+label, func() bool { digit, content, ok = p.lastDigit(label); return ok })
	switch {
	case !content:
		p.post(want, "Body", digit)
	case len(p.options()) <= 3:
		p.post(want, "Body", label, "ButtonText", label, "ButtonPayload", digit)
	default:
		p.post(want, "Body", label, "ListTitle", label, "ListId", digit)
	}
}

// post sends a message with the form fields kv as p and waits for a reply
// holding want.
func (p waPerson) post(want string, kv ...string) {
	p.t.Helper()
	*p.written++
	form := url.Values{"MessageSid": {fmt.Sprintf("SM%032d", *p.written)}, "From": {"whatsapp:" + p.number},
		"To": {waSender}, "NumMedia": {"0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	before := len(p.forms())
	req, _ := http.NewRequest(http.MethodPost, p.public+"/whatsapp/inbound", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smstest.Sign(p.token, p.public+"/whatsapp/inbound", form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	p.waitBody(before, want)
}

func (p waPerson) waitBody(before int, want string) {
	p.t.Helper()
	waitFor(p.t, "a reply containing "+want, func() bool {
		f := p.forms()
		var said []string
		for _, v := range f[min(before, len(f)):] {
			said = append(said, waSaid(v))
		}
		return strings.Contains(strings.Join(said, "\n"), want)
	})
}

// waSaid is what a request to Twilio says: its Body, or its Content
// variables in order.
func waSaid(f url.Values) string {
	if f.Get("ContentSid") == "" {
		return f.Get("Body")
	}
	var vars map[string]string
	_ = json.Unmarshal([]byte(f.Get("ContentVariables")), &vars)
	var out []string
	for i := 1; vars[strconv.Itoa(i)] != ""; i++ {
		out = append(out, vars[strconv.Itoa(i)])
	}
	return strings.Join(out, "\n")
}

// options are the button or item labels of p's newest message when it
// went as a choices template (variables text, option1...), else nil.
func (p waPerson) options() []string {
	f := p.forms()
	last := f[len(f)-1]
	if last.Get("ContentSid") == "" {
		return nil
	}
	return strings.Split(waSaid(last), "\n")[1:]
}

// lastDigit is the digit of the option labelled label in p's newest
// message, and whether it is a button or list item rather than a line of
// a numbered list; ok is false when that message has no such option.
func (p waPerson) lastDigit(label string) (digit string, content, ok bool) {
	if opts := p.options(); opts != nil {
		for i, o := range opts {
			if o == label {
				return strconv.Itoa(i + 1), true, true
			}
		}
	}
	f := p.forms()
	for _, line := range strings.Split(f[len(f)-1].Get("Body"), "\n") {
		if strings.HasSuffix(line, label) {
			return strings.Fields(line)[0], false, true
		}
	}
	return "", false, false
}

// TestWhatsAppJourney runs lifeline with only WhatsApp on: two people, in
// English and Spanish, go from "Hi" to a lesson, ask for a coach, whom a
// console coach claims and answers and to whom their words are relayed,
// try CLEAR and STOP, through signed webhooks and the real twilio-go
// client. Choices go as buttons or a list where a choices template is
// configured, and as numbered lists otherwise. Then check-ins started more
// than 24 hours after a person last wrote go as the configured template,
// or are skipped and counted when none is configured.
func TestWhatsAppJourney(t *testing.T) {
	twilio := smstest.NewServer(t)
	redis := storetest.StartServer(t)
	const token = "twiliotoken123"
	addr := freeAddr(t)
	public := "http://" + addr
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "whatsapp_templates.yaml"), []byte(waTemplateFile+waChoicesFile), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": token,
		"TWILIO_WHATSAPP_FROM": waSender, "TWILIO_API_URL": twilio.URL, "TWILIO_MPS": "100",
		"PUBLIC_URL": public, "LISTEN_ADDR": addr, "CONTENT_DIR": dir,
		"REDIS_URL": redis.URL(), "LIFELINE_DATA_KEY": testKey,
		// Coaches answer around the clock, so no out-of-hours notice.
		"COACH_HOURS": "Mon-Sun 00:00-23:59",
	}
	logs := listening(t, env)
	n := 0
	person := func(number string) waPerson {
		return waPerson{t: t, twilio: twilio, public: public, token: token, number: number, written: &n}
	}
	// The coach works in the console: the same steps its case page takes,
	// on the same Redis.
	sealer, err := sealerFor(&Config{DataKey: testKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(redis.Client(t), "ll", store.WithSealer(sealer))
	cont, err := content.Load("", "en", "international")
	if err != nil {
		t.Fatal(err)
	}
	rt := runner.New(runner.Config{Store: st, Content: cont})
	coaches := coach.New(coach.Config{Runtime: rt, Log: bottest.Quiet()})
	ctx := context.Background()
	// coachRelay has a console coach claim p's case and answer; p's words
	// then reach the case's conversation, not the bot.
	coachRelay := func(p waPerson, claimed, says, words string) {
		t.Helper()
		id := rt.PersonID("whatsapp", p.number)
		var alias string
		waitFor(t, "the case opened", func() bool {
			cases, err := coaches.OpenCases(ctx)
			for _, c := range cases {
				if err == nil && c.Person == id {
					alias = c.Alias
				}
			}
			return alias != ""
		})
		before := len(p.forms())
		if won, err := coaches.ClaimFor(ctx, alias, "amira", "Amira"); err != nil || !won {
			t.Fatalf("claim: %v %v", won, err)
		}
		p.waitBody(before, claimed)
		before = len(p.forms())
		if err := coaches.ReplyFrom(ctx, alias, "amira", "Amira", says, false); err != nil {
			t.Fatal(err)
		}
		p.waitBody(before, "Amira: "+says)
		before = len(p.forms())
		p.post("", "Body", words)
		waitFor(t, "the words in the case's conversation", func() bool {
			conv, err := coaches.Conversation(ctx, alias)
			for _, e := range conv {
				if err == nil && e.From == "person" && e.Text == words {
					return true
				}
			}
			return false
		})
		if f := p.forms(); len(f) != before {
			t.Errorf("the bot answered words meant for the coach: %v", f[before:])
		}
	}

	en := person("+447700900123")
	en.write("Hi", "English")
	if len(en.options()) != 8 {
		t.Fatalf("the languages are not a list: %v", en.forms()[len(en.forms())-1])
	}
	en.tap("English", "Privacy")
	if got := en.options(); len(got) != 3 || got[1] != "Tell me more" {
		t.Fatalf("the privacy notice's choices are not buttons: %v", got)
	}
	en.tap("Tell me more", "We cannot clear this WhatsApp chat for you")
	en.tap("I agree", "What would you like to do?")
	en.tap("Know your rights", "Choose a topic")
	en.tap("Your documents", "Your passport")
	en.write("coach", "A coach will write to you here soon")
	coachRelay(en, "Amira, a coach, is with you now.", "Your passport is yours. Are you safe now?", "Yes, I am at my cousin's place")
	en.write("clear", "We cannot delete messages on WhatsApp")
	en.write("STOP", "You will not get any more messages.")

	es := person("+34600000001")
	es.write("Hola", "Español")
	es.tap("Español", "Privacidad")
	es.tap("Acepto", "¿Qué quieres hacer?")
	es.tap("Conoce tus derechos", "Elige un tema")
	es.write("ayuda", "Una persona de apoyo te escribirá aquí pronto")
	coachRelay(es, "Amira, una persona de apoyo, está contigo ahora.", "Estoy aquí. ¿Dónde estás?", "Estoy en el albergue")
	es.write("limpiar", "No podemos borrar mensajes en WhatsApp")
	es.write("PARAR", "Ya no recibirás más mensajes.")

	// A third person, silent for 25 hours, is due a check-in and then its
	// reminder: the check-in goes as its template with its variables, and
	// the reminder, which has none, is skipped and counted.
	late := person("+447700900999")
	late.write("Hi", "English")
	late.write("1", "Privacy")
	late.write("1", "What would you like to do?")
	id := rt.PersonID("whatsapp", late.number)
	if err := st.SetProfile(ctx, id, map[string]string{"last": fmt.Sprint(time.Now().Add(-25 * time.Hour).UnixMilli())}); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.Profile(ctx, id); p["ch"] != "whatsapp" {
		t.Fatalf("profile %v", p)
	}
	before := len(late.forms())
	if err := rt.Trigger(ctx, id, "checkin", "checkin:test"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && len(late.forms()) <= before; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if len(late.forms()) <= before {
		t.Fatalf("logs:\n%s", logs.String())
	}
	f := late.forms()[before]
	if f.Get("ContentSid") != waCheckinSID || f.Get("Body") != "" || f.Get("From") != waSender {
		t.Errorf("check-in sent as %v", f)
	}
	if v := f.Get("ContentVariables"); !strings.Contains(v, `"1":"Hi, it's time for a short check-in.`) || !strings.Contains(v, `"2":"1 `) || strings.Contains(v, `\n`) {
		t.Errorf("check-in variables %s", v)
	}
	if err := rt.Trigger(ctx, id, "checkin_reminder", "reminder:test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reminder skipped", func() bool {
		return strings.Contains(logs.String(), "event=whatsapp_no_template purpose=checkin_reminder lang=en")
	})
	mresp, err := http.Get(public + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`lifeline_outbound_total{channel="whatsapp",result="no_template"}`, `lifeline_inbound_total{channel="whatsapp",result="accepted"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	if len(late.forms()) != before+1 {
		t.Errorf("the reminder was sent without a template: %v", late.forms()[before+1:])
	}

	for _, r := range twilio.Requests() {
		if cb := r.Form.Get("StatusCallback"); cb != public+"/whatsapp/status" {
			t.Errorf("status callback %q", cb)
		}
	}
	for _, secret := range []string{"447700900123", "34600000001", "Hola", "cousin", "albergue", "Are you safe", token} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestCheckWhatsAppTemplates: `lifeline check` reads the templates file,
// refusing a bad one and warning of an unknown purpose or language.
func TestCheckWhatsAppTemplates(t *testing.T) {
	cases := []struct {
		name, file string
		code       int
		want       string
	}{
		{"good", waTemplateFile, 0, "content ok"},
		{"bad sid", "checkin:\n  en: {sid: SM1}\n", 1, "sid must be a Content SID"},
		{"choices", waChoicesFile, 0, "content ok"},
		{"choices without an option", "choices_3:\n  any: {sid: " + waCheckinSID + ", variables: [text, option1, option2]}\n", 1,
			"choices_3/any: no variable option3"},
		{"choices in one language", "choices_2:\n  es: {sid: " + waCheckinSID + ", variables: [text, option1, option2]}\n", 1,
			`choices_2/es: a choices template's language is "any"`},
		{"unknown purpose and language", "chekin:\n  xx: {sid: " + waCheckinSID + "}\n", 0,
			"whatsapp_templates.yaml: chekin: warning: not a purpose Lifeline uses"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "whatsapp_templates.yaml"), []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCmd(t, nil, "", "check", dir)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
			if tc.name == "unknown purpose and language" && !strings.Contains(out, "chekin/xx: warning: no such language") {
				t.Errorf("no language warning:\n%s", out)
			}
		})
	}
}
