package sms

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
)

// prism starts Stoplight Prism mocking Twilio's official OpenAPI
// description, so the requests the real twilio-go client sends are checked
// against what Twilio documents (Prism answers 422 to a request the
// description does not allow). .ci/run installs Prism from npm; elsewhere
// set PRISM_BIN, or the test is skipped. Under CI it must run.
func prism(t *testing.T) string {
	t.Helper()
	root, _ := filepath.Abs("../..")
	bin := os.Getenv("PRISM_BIN")
	if bin == "" {
		bin = filepath.Join(root, ".ci", "node", "node_modules", ".bin", "prism")
	}
	spec := os.Getenv("TWILIO_OPENAPI")
	if spec == "" {
		spec = filepath.Join(root, "..", "shared", "specs", "twilio_api_v2010.json")
	}
	for _, f := range []string{bin, spec} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("CI needs %s (see .ci/run): %v", f, err)
			}
			t.Skipf("%s not found: run .ci/run once, or set PRISM_BIN and TWILIO_OPENAPI", f)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "mock", "-h", "127.0.0.1", "-p", strconv.Itoa(port), spec)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		closed := false
		for sc.Scan() {
			if !closed && strings.Contains(sc.Text(), "Prism is listening") {
				close(ready)
				closed = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(3 * time.Minute):
		t.Fatal("prism did not start")
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// TestRequestsMatchTwilioOpenAPI sends through the real adapter to Prism:
// every request must be one Twilio's description allows.
func TestRequestsMatchTwilioOpenAPI(t *testing.T) {
	base := prism(t)
	const sid = "AC0123456789abcdef0123456789abcdef"
	for _, cfg := range []Config{
		{AccountSID: sid, AuthToken: "tok", From: "+15005550006", APIURL: base, PublicURL: "https://lifeline.example.org", MPS: 100},
		{AccountSID: sid, AuthToken: "tok", MessagingServiceSID: "MG0123456789abcdef0123456789abcdef", APIURL: base, MPS: 100},
	} {
		a, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		msg := bot.Outbound{Text: "Choose a topic:", Options: []bot.OutOption{{ID: "a", Label: "Your documents"}, {ID: "b", Label: "Fair hiring"}}}
		if _, err := a.Send(context.Background(), "+447700900123", msg); err != nil {
			t.Errorf("Prism refused our request (from %q, service %q): %v", cfg.From, cfg.MessagingServiceSID, err)
		}
		long := bot.Outbound{Text: strings.Repeat("Your passport belongs to you. ", 40)}
		if _, err := a.Send(context.Background(), "+447700900123", long); err != nil {
			t.Errorf("Prism refused a long message: %v", err)
		}
	}
	// The WhatsApp channel's free-form message, template, and choices as
	// buttons (a quick-reply) and as a list.
	wa, err := New(Config{AccountSID: sid, AuthToken: "tok", From: "whatsapp:+15005550006", APIURL: base, PublicURL: "https://lifeline.example.org", MPS: 100,
		Templates: Templates{"checkin": {"en": {ContentSID: "HX0123456789abcdef0123456789abcdef", Variables: []string{"text", "options"}}},
			"choices_2": {AnyLanguage: {ContentSID: "HX00112233445566778899aabbccddeeff", Variables: []string{"text", "option1", "option2"}}},
			"choices_4": {AnyLanguage: {ContentSID: "HXffeeddccbbaa99887766554433221100", Variables: []string{"text", "option1", "option2", "option3", "option4"}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sent int
	wa.OnWait = func(time.Duration) { sent++ }
	four := []bot.OutOption{{ID: "a", Label: "Your documents"}, {ID: "b", Label: "Fair hiring"}, {ID: "c", Label: "Debt"}, {ID: "d", Label: "Unions"}}
	for _, msg := range []bot.Outbound{
		{Text: "Choose a topic:", Options: []bot.OutOption{{ID: "a", Label: "Your documents"}}},
		{Text: "How are you?", Options: []bot.OutOption{{ID: "a", Label: "Fine"}}, Purpose: "checkin", Lang: "en"},
		{Text: "How are you?\nTap one.", Options: four[:2]},
		{Text: "Choose a topic:", Options: four},
	} {
		if _, err := wa.Send(context.Background(), "+447700900123", msg); err != nil {
			t.Errorf("Prism refused a WhatsApp request (purpose %q, %d options): %v", msg.Purpose, len(msg.Options), err)
		}
	}
	if sent != 4 {
		// A refused choices template is sent again as text.
		t.Errorf("%d WhatsApp requests, want 4 (Prism refused a choices template?)", sent)
	}
	// Prism does check: a request without To is refused, and the adapter
	// reports it as not retryable.
	form := url.Values{"Body": {"hi"}, "From": {"+15005550006"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	req.SetBasicAuth(sid, "tok")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a request without To got %d from Prism, want 422: Prism is not validating", resp.StatusCode)
	}
	var se *bot.SendError
	a, _ := New(Config{AccountSID: sid, AuthToken: "tok", From: "+15005550006", APIURL: base, MPS: 100}, nil)
	if _, err := a.Send(context.Background(), "", bot.Outbound{Text: "hi"}); err == nil || (errors.As(err, &se) && se.Retryable) {
		t.Errorf("an empty To: got %v, want a refusal that is not retried", err)
	}
}
