package sms

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lifeline-org/lifeline/bot/bottest"
)

// unread is a request body that fails the test if anything reads it.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("the body was read")
	return 0, http.ErrBodyReadAfterClose
}

// TestWebhookRefusedBeforeReading: a webhook with no signature, or one
// declaring a body over the cap, is answered at once without reading the
// body, so a client trickling one cannot hold the handler; the connection
// is closed after the answer.
func TestWebhookRefusedBeforeReading(t *testing.T) {
	env := newTestAdapter(t, nil, nil)
	rec := bottest.NewReceiver(nil)
	run(t, env.a, rec)
	mux := http.NewServeMux()
	env.a.Register(mux)
	for _, tc := range []struct {
		name, path, sig string
		length          int64
		want            int
	}{
		{"inbound without signature", InboundPath, "", 1000, http.StatusForbidden},
		{"status without signature", StatusPath, "", 1000, http.StatusForbidden},
		{"inbound declaring too large a body", InboundPath, "c2lnbmF0dXJl", maxWebhookBody + 1, http.StatusRequestEntityTooLarge},
		{"status declaring too large a body", StatusPath, "c2lnbmF0dXJl", maxWebhookBody + 1, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tc.path, unread{t})
			r.ContentLength = tc.length
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.sig != "" {
				r.Header.Set("X-Twilio-Signature", tc.sig)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != tc.want || w.Header().Get("Connection") != "close" {
				t.Errorf("status %d, Connection %q; want %d and close", w.Code, w.Header().Get("Connection"), tc.want)
			}
		})
	}
	if n := len(rec.Accepted()); n != 0 {
		t.Errorf("%d texts accepted", n)
	}
}
