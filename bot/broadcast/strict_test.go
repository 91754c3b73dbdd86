package broadcast

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestStaffAPIRefusesLooseInput: every call that takes a body takes exactly
// one JSON object, sent as application/json, of known fields and at most
// 64 KiB; anything else is refused with a short reason, and nothing is
// created or switched on.
func TestStaffAPIRefusesLooseInput(t *testing.T) {
	st := newStore(t)
	p := newProc(t, st, procOpts{chans: []bot.Channel{bottest.NewChannel("test")}})
	mux := http.NewServeMux()
	p.svc.Register(mux, bot.StaticToken("s3cret"))
	job := `{"title":"Cook","employer":"Hotel","sector":"hospitality","location":"north","pay":"10","hours":"40","contact":"coach",` +
		`"languages":["en"],"expires_at":"2099-01-01T00:00:00Z","no_fees":true,"written_contract":true,"employer_vetted":true}`
	valid := map[string]string{
		"POST /api/broadcasts": `{"text":{"en":"Hello"}}`,
		"POST /api/jobs":       job,
		"PUT /api/reminders":   `{"every":"monthly","audience":{"channels":["test"]}}`,
	}
	for route, body := range valid {
		method, path, _ := strings.Cut(route, " ")
		for _, tc := range []struct {
			name, ctype, body string
			code              int
			reason            string
		}{
			{"trailing garbage", "application/json", body + "garbage", 400, "more than one JSON value"},
			{"a second object", "application/json", body + body, 400, "more than one JSON value"},
			{"an unknown field", "application/json", strings.Replace(body, "{", `{"extra":1,`, 1), 400, `unknown field "extra"`},
			{"too large", "application/json", body + strings.Repeat(" ", bot.MaxStaffBody), 400, "larger than"},
			{"no content type", "", body, 415, "application/json"},
			{"a form", "application/x-www-form-urlencoded", body, 415, "application/json"},
		} {
			req := httptest.NewRequest(method, path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer s3cret")
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			var out map[string]string
			_ = json.Unmarshal(w.Body.Bytes(), &out)
			if w.Code != tc.code || !strings.Contains(out["error"], tc.reason) {
				t.Errorf("%s with %s: %d %s; want %d and an error naming %q", route, tc.name, w.Code, w.Body.String(), tc.code, tc.reason)
			}
		}
	}
	ctx := context.Background()
	if list, err := p.svc.List(ctx, 100); err != nil || len(list) != 0 {
		t.Errorf("broadcasts after refused calls: %v %v", list, err)
	}
	if jobs, err := p.svc.ListJobs(ctx); err != nil || len(jobs) != 0 {
		t.Errorf("jobs after refused calls: %v %v", jobs, err)
	}
	if rem, err := p.svc.RemindersStatus(ctx); err != nil || rem.On {
		t.Errorf("reminders after refused calls: %+v %v", rem, err)
	}

	// The same bodies, sent properly, are taken: the refusals above were
	// for the form, not the content.
	for route, body := range valid {
		method, path, _ := strings.Cut(route, " ")
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer s3cret")
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code/100 != 2 {
			t.Errorf("%s with a valid body: %d %s", route, w.Code, w.Body.String())
		}
	}
}
