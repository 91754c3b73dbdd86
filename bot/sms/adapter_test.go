package sms

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
)

const (
	testSID       = "AC0123456789abcdef0123456789abcdef"
	testToken     = "secrettoken42"
	testFrom      = "+15005550006"
	testService   = "MG0123456789abcdef0123456789abcdef"
	testPublic    = "https://lifeline.example.org"
	testTo        = "+447700900123"
	messagesPath  = "/2010-04-01/Accounts/" + testSID + "/Messages.json"
	createdBody   = smstest.CreatedBody
	testStatusURL = testPublic + StatusPath
)

type testEnv struct {
	a     *Adapter
	api   *smstest.Server
	clock *bottest.Clock
	logs  *bottest.Buffer
}

// mock is one canned answer of the fake Twilio API.
type mock = smstest.Response

// newTestAdapter returns an adapter talking to a fake Twilio API that
// answers with mocks. edit may change the config first.
func newTestAdapter(t *testing.T, mocks map[string][]mock, edit func(*Config)) *testEnv {
	t.Helper()
	api := smstest.NewScripted(t, mocks)
	cfg := Config{
		AccountSID: testSID,
		AuthToken:  testToken,
		From:       testFrom,
		APIURL:     api.URL,
		PublicURL:  testPublic,
		MPS:        1000,
	}
	if edit != nil {
		edit(&cfg)
	}
	logs := &bottest.Buffer{}
	clock := newTestClock()
	a, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		WithClock(clock.Now), WithTransport(api.Transport()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// No personal data or secrets in the logs, whatever the test did.
		out := logs.String()
		for _, secret := range []string{testTo, "447700900123", testToken} {
			if strings.Contains(out, secret) {
				t.Errorf("logs contain %q:\n%s", secret, out)
			}
		}
	})
	return &testEnv{a: a, api: api, clock: clock, logs: logs}
}

var created = smstest.Created

// newTestClock is a clock at noon on 1 March 2026.
func newTestClock() *bottest.Clock {
	return bottest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

func TestSend(t *testing.T) {
	long := strings.TrimSpace(strings.Repeat("Your passport belongs to you. ", 20)) // 599 chars, 4 segments
	parts := Split(long, 3)
	if len(parts) != 2 {
		t.Fatalf("test text splits into %d parts, want 2", len(parts))
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		msg     bot.Outbound
		address string
		mocks   []mock
		// want is the form of each request, in order.
		want []url.Values
		// check looks at Send's error (nil when Send should succeed).
		check func(t *testing.T, err error)
	}{
		{
			name:  "from number",
			msg:   bot.Outbound{Text: "Hello. You are safe here."},
			mocks: created(),
			want:  []url.Values{{"To": {testTo}, "From": {testFrom}, "Body": {"Hello. You are safe here."}, "StatusCallback": {testStatusURL}}},
		},
		{
			name:    "address is normalised",
			msg:     bot.Outbound{Text: "Hi"},
			address: "0044 7700 900-123",
			mocks:   created(),
			want:    []url.Values{{"To": {testTo}, "From": {testFrom}, "Body": {"Hi"}, "StatusCallback": {testStatusURL}}},
		},
		{
			name:  "messaging service without public url",
			edit:  func(c *Config) { c.From, c.MessagingServiceSID, c.PublicURL = "", testService, "" },
			msg:   bot.Outbound{Text: "Hi"},
			mocks: created(),
			want:  []url.Values{{"To": {testTo}, "MessagingServiceSid": {testService}, "Body": {"Hi"}}},
		},
		{
			name:  "numbered menu",
			msg:   bot.Outbound{Text: "What would you like?", Prompt: 3, Options: []bot.OutOption{{ID: "talk", Label: "Talk to someone"}, {ID: "rights", Label: "My rights"}}},
			mocks: created(),
			want:  []url.Values{{"To": {testTo}, "From": {testFrom}, "Body": {"What would you like?\n1 Talk to someone\n2 My rights"}, "StatusCallback": {testStatusURL}}},
		},
		{
			name:  "menu without text",
			msg:   bot.Outbound{Options: []bot.OutOption{{ID: "y", Label: "Yes"}, {ID: "n", Label: "No"}}},
			mocks: created(),
			want:  []url.Values{{"To": {testTo}, "From": {testFrom}, "Body": {"1 Yes\n2 No"}, "StatusCallback": {testStatusURL}}},
		},
		{
			name:  "long text in parts, in order",
			msg:   bot.Outbound{Text: long},
			mocks: append(created(), created()...),
			want: []url.Values{
				{"To": {testTo}, "From": {testFrom}, "Body": {parts[0]}, "StatusCallback": {testStatusURL}},
				{"To": {testTo}, "From": {testFrom}, "Body": {parts[1]}, "StatusCallback": {testStatusURL}},
			},
		},
		{
			name:  "accepted with an unreadable answer is sent",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 201, Body: `not json`}},
			want:  []url.Values{nil},
		},
		{
			name: "empty message is not sent",
			msg:  bot.Outbound{Text: "  "},
		},
		{
			name:    "invalid address",
			msg:     bot.Outbound{Text: "Hi"},
			address: "12345",
			check:   wantSendError(bot.SendError{Unreachable: true, Code: 21211}),
		},
		{
			name:  "rate limited 429 with code 20429",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 429, Body: `{"code":20429,"message":"Too Many Requests","status":429}`, Header: map[string]string{"Retry-After": "7"}}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Retryable: true, RetryAfter: 7 * time.Second, Code: 20429}),
		},
		{
			name:  "429 without a twilio body",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 429, Body: `slow down`, Header: map[string]string{"Retry-After": "2"}}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Retryable: true, RetryAfter: 2 * time.Second}),
		},
		{
			name:  "opted out 21610",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 400, Body: `{"code":21610,"message":"Attempt to send to unsubscribed recipient +447700900123","status":400}`}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{OptedOut: true, Code: 21610}),
		},
		{
			name:  "invalid number 21211",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 400, Body: `{"code":21211,"message":"The 'To' number +447700900123 is not a valid phone number.","status":400}`}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Unreachable: true, Code: 21211}),
		},
		{
			name:  "not a mobile number 21614",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 400, Body: `{"code":21614,"message":"'To' number is not a valid mobile number","status":400}`}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Unreachable: true, Code: 21614}),
		},
		{
			name:  "server error 500 without json",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 500, Body: `<html>oops</html>`}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Retryable: true}),
		},
		{
			name:  "server error 503 with code and retry date",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 503, Body: `{"code":20503,"message":"Service unavailable","status":503}`, Header: map[string]string{"Retry-After": "Sun, 01 Mar 2026 12:00:30 GMT"}}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Retryable: true, RetryAfter: 30 * time.Second, Code: 20503}),
		},
		{
			name:  "other 4xx is final",
			msg:   bot.Outbound{Text: "Hi"},
			mocks: []mock{{Status: 400, Body: `{"code":21602,"message":"Message body is required.","status":400}`}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Code: 21602}),
		},
		{
			name:  "first part fails",
			msg:   bot.Outbound{Text: long},
			mocks: []mock{{Status: 429, Body: `{"code":20429,"status":429}`}},
			want:  []url.Values{nil},
			check: wantSendError(bot.SendError{Retryable: true, Code: 20429}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mocks map[string][]mock
			if tc.mocks != nil {
				mocks = map[string][]mock{"POST " + messagesPath: tc.mocks}
			}
			env := newTestAdapter(t, mocks, tc.edit)
			address := tc.address
			if address == "" {
				address = testTo
			}
			id, err := env.a.Send(context.Background(), address, tc.msg)
			if id != 0 {
				t.Errorf("id = %d, want 0", id)
			}
			if tc.check == nil {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
			} else {
				tc.check(t, err)
			}
			reqs := env.api.Requests()
			if len(reqs) != len(tc.want) {
				t.Fatalf("%d requests, want %d", len(reqs), len(tc.want))
			}
			for i, r := range reqs {
				if r.Method != http.MethodPost || r.Path != messagesPath {
					t.Errorf("request %d: %s %s", i, r.Method, r.Path)
				}
				if r.User != testSID || r.Pass != testToken {
					t.Errorf("request %d: basic auth %q", i, r.User)
				}
				if r.ContentType != "application/x-www-form-urlencoded" {
					t.Errorf("request %d: content type %q", i, r.ContentType)
				}
				if tc.want[i] != nil && r.Form.Encode() != tc.want[i].Encode() {
					t.Errorf("request %d form:\n got %v\nwant %v", i, r.Form, tc.want[i])
				}
			}
		})
	}
}

// wantSendError checks that err is a *bot.SendError like want, and that
// it does not quote the person's number.
func wantSendError(want bot.SendError) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		se, ok := errors.AsType[*bot.SendError](err)
		if !ok {
			t.Fatalf("error %v is not a *bot.SendError", err)
		}
		got := *se
		got.Err = nil
		if got != want {
			t.Errorf("SendError = %+v, want %+v", got, want)
		}
		if strings.Contains(err.Error(), "447700900123") {
			t.Errorf("error quotes the number: %v", err)
		}
	}
}

func TestSendTimeout(t *testing.T) {
	env := newTestAdapter(t, map[string][]mock{
		"POST " + messagesPath: {{Status: 201, Body: createdBody, Delay: 5 * time.Second}},
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := env.a.Send(ctx, testTo, bot.Outbound{Text: "Hi"})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v, did not honour the context", d)
	}
	se, ok := errors.AsType[*bot.SendError](err)
	if !ok || !se.Retryable {
		t.Fatalf("err = %v, want a retryable SendError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

func TestSendRateLimit(t *testing.T) {
	env := newTestAdapter(t, map[string][]mock{
		"POST " + messagesPath: append(created(), append(created(), created()...)...),
	}, func(c *Config) { c.MPS = 20 })
	start := time.Now()
	for range 3 {
		if _, err := env.a.Send(context.Background(), testTo, bot.Outbound{Text: "Hi"}); err != nil {
			t.Fatal(err)
		}
	}
	// Three sends at 20 per second take at least two intervals of 50ms.
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("3 sends took %v, want at least 100ms at 20 per second", d)
	}
	// A cancelled context stops the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env.a.limiter.next = time.Now().Add(time.Hour)
	_, err := env.a.Send(ctx, testTo, bot.Outbound{Text: "Hi"})
	if se, ok := errors.AsType[*bot.SendError](err); !ok || !se.Retryable || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want a retryable SendError wrapping context.Canceled", err)
	}
}

func TestSendNetworkError(t *testing.T) {
	env := newTestAdapter(t, nil, nil)
	env.api.Close()
	_, err := env.a.Send(context.Background(), testTo, bot.Outbound{Text: "Hi"})
	if se, ok := errors.AsType[*bot.SendError](err); !ok || !se.Retryable {
		t.Errorf("err = %v, want a retryable SendError", err)
	}
}

func TestAPIURLWithPath(t *testing.T) {
	// A proxy may serve Twilio's API below a path.
	api := smstest.NewScripted(t, map[string][]mock{"POST /twilio" + messagesPath: created()})
	a, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: testFrom, APIURL: api.URL + "/twilio/", MPS: 1000},
		nil, WithTransport(api.Transport()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(context.Background(), testTo, bot.Outbound{Text: "Hi"}); err != nil {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	good := Config{AccountSID: testSID, AuthToken: testToken, From: testFrom}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"minimal", func(*Config) {}, true},
		{"messaging service only", func(c *Config) { c.From, c.MessagingServiceSID = "", testService }, true},
		{"no sender", func(c *Config) { c.From = "" }, false},
		{"no sid", func(c *Config) { c.AccountSID = "" }, false},
		{"no token", func(c *Config) { c.AuthToken = "" }, false},
		{"token with symbols", func(c *Config) { c.AuthToken = "abc-def" }, false},
		{"negative mps", func(c *Config) { c.MPS = -1 }, false},
		{"api url relative", func(c *Config) { c.APIURL = "api.twilio.com" }, false},
		{"api url ftp", func(c *Config) { c.APIURL = "ftp://api.twilio.com" }, false},
		{"public url with query", func(c *Config) { c.PublicURL = "https://x.example/?a=1" }, false},
		{"public url", func(c *Config) { c.PublicURL = "https://x.example/lifeline/" }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			a, err := New(cfg, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("New error = %v, want ok %v", err, tc.ok)
			}
			if err == nil && a.Name() != "sms" {
				t.Errorf("Name = %q", a.Name())
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 12 ", 12 * time.Second},
		{"-3", 0},
		{"Sun, 01 Mar 2026 12:01:00 GMT", time.Minute},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.h, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestRunHoldsReceiverUntilDone(t *testing.T) {
	env := newTestAdapter(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.a.Run(ctx, bottest.NewReceiver(nil)) }()
	waitForReceiver(t, env.a)
	select {
	case <-done:
		t.Fatal("Run returned before ctx ended")
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	if env.a.currentReceiver() != nil {
		t.Error("receiver kept after Run returned")
	}
}

var _ bot.Channel = (*Adapter)(nil)
