package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// postSMS posts form to public's SMS webhook, signed with token as Twilio
// signs, and returns the status of the answer.
func postSMS(t *testing.T, public, token string, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, public+"/sms/inbound", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smstest.Sign(token, public+"/sms/inbound", form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// smsEnv is the environment of `lifeline serve` sending texts through
// twilio, storing in srv and listening on a free local address, public;
// Twilio signs what it posts with token.
func smsEnv(t *testing.T, twilio *smstest.Server, srv *storetest.Server, token string) (env map[string]string, public string) {
	return smsEnvOn(t, twilio, srv.URL(), token)
}

// smsEnvOn is smsEnv on the Redis at redisURL.
func smsEnvOn(t *testing.T, twilio *smstest.Server, redisURL, token string) (env map[string]string, public string) {
	t.Helper()
	addr := freeAddr(t)
	public = "http://" + addr
	return map[string]string{
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": token,
		"TWILIO_FROM": "+15005550006", "TWILIO_API_URL": twilio.URL, "TWILIO_MPS": "100",
		"PUBLIC_URL": public, "LISTEN_ADDR": addr,
		"REDIS_URL": redisURL, "LIFELINE_DATA_KEY": testKey,
	}, public
}

// texter returns a function that texts body from the number from through
// the signed webhook at public and waits for a reply containing want.
func texter(t *testing.T, twilio *smstest.Server, public, token, from string) func(body, want string) {
	n := 0
	return func(body, want string) {
		t.Helper()
		n++
		form := url.Values{"MessageSid": {fmt.Sprintf("SM%s%020d", strings.TrimPrefix(from, "+"), n)}, "From": {from}, "To": {"+15005550006"}, "Body": {body}}
		before := len(twilio.Bodies())
		if code := postSMS(t, public, token, form); code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
		waitFor(t, "a reply containing "+want, func() bool {
			b := twilio.Bodies()
			return len(b) > before && strings.Contains(strings.Join(b[before:], "\n"), want)
		})
	}
}

// listening runs `lifeline serve` with env until the test ends, waits
// until it listens and returns its log.
func listening(t *testing.T, env map[string]string) *syncBuffer {
	t.Helper()
	logs := lifeline(t, env)
	waitFor(t, "lifeline listening", func() bool { return strings.Contains(logs.String(), "event=listening") })
	return logs
}

// TestSMSJourney goes from "Hi" to the end of the lesson by digits alone,
// through signed Twilio webhooks and the real twilio-go client talking to a
// fake Messages API.
func TestSMSJourney(t *testing.T) {
	twilio := smstest.NewServer(t)
	const token = "twiliotoken123"
	env, public := smsEnv(t, twilio, storetest.StartServer(t), token)
	logs := listening(t, env)
	text := texter(t, twilio, public, token, "+447700900123")
	text("Hi", "1 English")
	text("1", "Privacy")
	text("1", "What would you like to do?")
	text("1", "Choose a topic")
	bodies := twilio.Bodies()
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
	if code := postSMS(t, public, "wrong", form); code != http.StatusForbidden {
		t.Fatalf("forged webhook answered %d, want 403", code)
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
	for _, r := range twilio.Requests() {
		if v := r.Form; v.Get("To") != "+447700900123" || v.Get("StatusCallback") != public+"/sms/status" {
			t.Errorf("sent To=%q StatusCallback=%q", v.Get("To"), v.Get("StatusCallback"))
		}
	}
}
