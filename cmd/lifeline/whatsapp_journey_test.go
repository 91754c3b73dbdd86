package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
func (p waPerson) write(body, want string) {
	p.t.Helper()
	*p.written++
	form := url.Values{"MessageSid": {fmt.Sprintf("SM%032d", *p.written)}, "From": {"whatsapp:" + p.number},
		"To": {waSender}, "Body": {body}, "NumMedia": {"0"}}
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
		var bodies []string
		for _, v := range f[min(before, len(f)):] {
			bodies = append(bodies, v.Get("Body"))
		}
		return strings.Contains(strings.Join(bodies, "\n"), want)
	})
}

// lastDigit is the digit of the option labelled label in p's newest message.
func (p waPerson) lastDigit(label string) string {
	p.t.Helper()
	f := p.forms()
	for _, line := range strings.Split(f[len(f)-1].Get("Body"), "\n") {
		if strings.HasSuffix(line, label) {
			return strings.Fields(line)[0]
		}
	}
	p.t.Fatalf("no option %q in %q", label, f[len(f)-1].Get("Body"))
	return ""
}

// TestWhatsAppJourney runs lifeline with only WhatsApp on: two people go
// from "Hi" to a lesson and STOP, in English and Spanish, through signed
// webhooks and the real twilio-go client; then check-ins started more than
// 24 hours after a person last wrote go as the configured template, or are
// skipped and counted when none is configured.
func TestWhatsAppJourney(t *testing.T) {
	twilio := smstest.NewServer(t)
	redis := storetest.StartServer(t)
	const token = "twiliotoken123"
	addr := freeAddr(t)
	public := "http://" + addr
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "whatsapp_templates.yaml"), []byte(waTemplateFile), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": token,
		"TWILIO_WHATSAPP_FROM": waSender, "TWILIO_API_URL": twilio.URL, "TWILIO_MPS": "100",
		"PUBLIC_URL": public, "LISTEN_ADDR": addr, "CONTENT_DIR": dir,
		"REDIS_URL": redis.URL(), "LIFELINE_DATA_KEY": testKey,
	}
	logs := listening(t, env)
	n := 0
	person := func(number string) waPerson {
		return waPerson{t: t, twilio: twilio, public: public, token: token, number: number, written: &n}
	}

	en := person("+447700900123")
	en.write("Hi", "English")
	en.write("1", "Privacy")
	en.write("1", "What would you like to do?")
	en.write("1", "Choose a topic")
	en.write(en.lastDigit("Your documents"), "Your passport")
	en.write("STOP", "You will not get any more messages.")

	es := person("+34600000001")
	es.write("Hola", "Español")
	es.write(es.lastDigit("Español"), "Privacidad")
	es.write("1", "¿Qué quieres hacer?")
	es.write("1", "Elige un tema")
	es.write("PARAR", "Ya no recibirás más mensajes.")

	// A third person, silent for 25 hours, is due a check-in and then its
	// reminder: the check-in goes as its template with its variables, and
	// the reminder, which has none, is skipped and counted.
	late := person("+447700900999")
	late.write("Hi", "English")
	late.write("1", "Privacy")
	late.write("1", "What would you like to do?")
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
	ctx := context.Background()
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
	for _, secret := range []string{"447700900123", "34600000001", "Hola", token} {
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
