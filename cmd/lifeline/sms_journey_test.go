package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/lifeline-org/lifeline/store/storetest"
)

// fakeTwilio records the messages Lifeline sends through Twilio's
// Messages API.
type fakeTwilio struct {
	mu   sync.Mutex
	sent []url.Values
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/Messages.json") {
		http.Error(w, "unexpected", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.sent = append(f.sent, r.PostForm)
	n := len(f.sent)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"sid":"SM%032d","status":"queued"}`, n)
}

func (f *fakeTwilio) bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, v := range f.sent {
		out = append(out, v.Get("Body"))
	}
	return out
}

// twilioSign signs a webhook as Twilio does: HMAC-SHA1 over the URL and the
// sorted parameters.
func twilioSign(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(u)
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// newFakeTwilioServer serves f on 127.0.0.1 until the test ends.
func newFakeTwilioServer(t *testing.T, f *fakeTwilio) string {
	api := httptest.NewServer(f)
	t.Cleanup(api.Close)
	return api.URL
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestSMSJourney goes from "Hi" to the end of the lesson by digits alone,
// through signed Twilio webhooks and the real twilio-go client talking to a
// fake Messages API.
func TestSMSJourney(t *testing.T) {
	twilio := &fakeTwilio{}
	api := httptest.NewServer(twilio)
	defer api.Close()
	srv := storetest.StartServer(t)
	addr := freeAddr(t)
	public := "http://" + addr
	const token = "twiliotoken123"
	logs := lifeline(t, map[string]string{
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": token,
		"TWILIO_FROM": "+15005550006", "TWILIO_API_URL": api.URL, "TWILIO_MPS": "100",
		"PUBLIC_URL": public, "LISTEN_ADDR": addr,
		"REDIS_URL": srv.URL(), "LIFELINE_DATA_KEY": testKey,
	})
	waitFor(t, "lifeline listening", func() bool { return strings.Contains(logs.String(), "event=listening") })
	n := 0
	text := func(body, want string) {
		t.Helper()
		n++
		form := url.Values{"MessageSid": {fmt.Sprintf("SM%032d", n)}, "From": {"+447700900123"}, "To": {"+15005550006"}, "Body": {body}}
		req, _ := http.NewRequest(http.MethodPost, public+"/sms/inbound", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twilioSign(token, public+"/sms/inbound", form))
		before := len(twilio.bodies())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
		waitFor(t, "a reply containing "+want, func() bool {
			b := twilio.bodies()
			return len(b) > before && strings.Contains(strings.Join(b[before:], "\n"), want)
		})
	}
	text("Hi", "1 English")
	text("1", "Privacy")
	text("1", "What would you like to do?")
	text("1", "Choose a topic")
	bodies := twilio.bodies()
	digit := ""
	for _, line := range strings.Split(bodies[len(bodies)-1], "\n") {
		if strings.HasSuffix(line, "Your documents") {
			digit = strings.Fields(line)[0]
		}
	}
	if digit == "" {
		t.Fatalf("no documents lesson in %q", bodies[len(bodies)-1])
	}
	text(digit, "Your passport")
	text("1", "warning sign")
	text("1", "What is true?")
	text("2", "Who can help")
	text("1", "Choose a topic")

	// A forged signature is refused and changes nothing.
	form := url.Values{"MessageSid": {"SMforged"}, "From": {"+447700900123"}, "Body": {"menu"}}
	req, _ := http.NewRequest(http.MethodPost, public+"/sms/inbound", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioSign("wrong", public+"/sms/inbound", form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged webhook answered %d, want 403", resp.StatusCode)
	}
	for _, secret := range []string{"447700900123", "Hi", token} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	// The metrics count what happened, by channel and result, with no
	// personal data in any label.
	mresp, err := http.Get(public + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`lifeline_inbound_total{channel="sms",result="accepted"} 9`, `lifeline_outbound_total{channel="sms",result="sent"}`,
		`lifeline_turn_seconds_count{channel="sms"}`, `lifeline_queue_depth{queue="work"}`, "lifeline_redis_errors_total", `lifeline_limiter_wait_seconds_count{channel="sms"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), "447700900123") {
		t.Error("/metrics holds a phone number")
	}
	for _, v := range twilio.sent {
		if v.Get("To") != "+447700900123" || v.Get("StatusCallback") != public+"/sms/status" {
			t.Errorf("sent To=%q StatusCallback=%q", v.Get("To"), v.Get("StatusCallback"))
		}
	}
}
