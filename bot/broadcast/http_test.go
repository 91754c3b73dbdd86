package broadcast

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

func TestStaffAPI(t *testing.T) {
	st := newStore(t)
	clk := bottest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	p := newProc(t, st, procOpts{clock: clk, chans: []bot.Channel{bottest.NewChannel("test")}})
	mux := http.NewServeMux()
	p.svc.Register(mux, bot.StaticToken("s3cret"))
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	for _, c := range []struct{ method, path, token string }{
		{"POST", "/api/broadcasts", ""}, {"POST", "/api/broadcasts", "wrong"}, {"GET", "/api/broadcasts/x", "S3CRET"},
		{"POST", "/api/jobs", ""}, {"GET", "/api/jobs", "s3cret "}, {"DELETE", "/api/jobs/x", "nope"}, {"PUT", "/api/reminders", ""},
	} {
		if code, _ := call(c.method, c.path, c.token, `{"text":{"en":"hi"}}`); code != http.StatusUnauthorized {
			t.Errorf("%s %s with token %q: %d, want 401", c.method, c.path, c.token, code)
		}
	}
	off := http.NewServeMux()
	p.svc.Register(off, bot.StaticToken(""))
	req := httptest.NewRequest("GET", "/api/jobs", nil)
	req.Header.Set("Authorization", "Bearer ")
	w := httptest.NewRecorder()
	off.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("API with no token configured: %d", w.Code)
	}

	code, out := call("POST", "/api/broadcasts", "s3cret", `{"text":{"en":"Hello","es":"Hola"},"audience":{"languages":["es"]},"send_at":"2026-12-02T09:00:00Z"}`)
	id, _ := out["id"].(string)
	if code != http.StatusCreated || id == "" {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out = call("GET", "/api/broadcasts/"+id, "s3cret", "")
	if code != 200 || out["status"] != "scheduled" || out["total"] != 0.0 {
		t.Fatalf("get: %d %v", code, out)
	}
	for _, step := range []struct {
		action string
		code   int
		status string
	}{{"pause", 200, "paused"}, {"resume", 200, "scheduled"}, {"cancel", 200, "cancelled"}, {"resume", 409, ""}, {"explode", 404, ""}} {
		code, out = call("POST", "/api/broadcasts/"+id+"/"+step.action, "s3cret", "")
		if code != step.code || (step.status != "" && out["status"] != step.status) {
			t.Errorf("%s: %d %v", step.action, code, out)
		}
	}
	if code, _ = call("GET", "/api/broadcasts/nosuch", "s3cret", ""); code != 404 {
		t.Errorf("unknown broadcast: %d", code)
	}
	if code, out = call("POST", "/api/broadcasts", "s3cret", `{"text":{"es":"Hola"}}`); code != 400 || !strings.Contains(out["error"].(string), "default language") {
		t.Errorf("no default language: %d %v", code, out)
	}
	if code, _ = call("POST", "/api/broadcasts", "s3cret", `{"txt":"oops"}`); code != 400 {
		t.Errorf("unknown field: %d", code)
	}

	job := map[string]any{"title": "Cook", "employer": "Hotel", "sector": "hospitality", "location": "north", "pay": "10", "hours": "40",
		"contact": "coach", "languages": []string{"en"}, "expires_at": "2027-01-01T00:00:00Z", "no_fees": false, "written_contract": true, "employer_vetted": true}
	b, _ := json.Marshal(job)
	code, out = call("POST", "/api/jobs", "s3cret", string(b))
	if code != 400 || !strings.Contains(out["error"].(string), "no_fees") || out["failed_checks"] == nil {
		t.Errorf("unfair job: %d %v", code, out)
	}
	job["no_fees"] = true
	b, _ = json.Marshal(job)
	code, out = call("POST", "/api/jobs", "s3cret", string(b))
	jid, _ := out["id"].(string)
	if code != 201 || jid == "" || out["alert_id"] != "job-"+jid {
		t.Fatalf("post job: %d %v", code, out)
	}
	req = httptest.NewRequest("GET", "/api/jobs", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	var jobs []Job
	if err := json.Unmarshal(w.Body.Bytes(), &jobs); err != nil || len(jobs) != 1 || jobs[0].ID != jid {
		t.Errorf("list jobs: %s", w.Body.String())
	}
	if code, out = call("GET", "/api/jobs/lists", "s3cret", ""); code != 200 || out["sectors"] == nil {
		t.Errorf("lists: %d %v", code, out)
	}
	if code, _ = call("DELETE", "/api/jobs/"+strings.ToUpper(jid), "s3cret", ""); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ = call("DELETE", "/api/jobs/"+jid, "s3cret", ""); code != 404 {
		t.Errorf("delete again: %d", code)
	}

	code, out = call("PUT", "/api/reminders", "s3cret", `{"every":"monthly","audience":{"channels":["sms"]}}`)
	if code != 200 || out["on"] != true || out["every"] != "monthly" {
		t.Errorf("reminders on: %d %v", code, out)
	}
	if code, out = call("DELETE", "/api/reminders", "s3cret", ""); code != 200 || out["on"] != false {
		t.Errorf("reminders off: %d %v", code, out)
	}
}

func TestCLI(t *testing.T) {
	st := newStore(t)
	p := newProc(t, st, procOpts{chans: []bot.Channel{bottest.NewChannel("test")}})
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := MainWith(context.Background(), p.svc, args, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := run("broadcast", "send", "--text", "en=Hello", "--text", "es=Hola", "--lang", "es,en", "--urgent")
	var created map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created["id"] == "" {
		t.Fatalf("send: %d %q %q", code, out, errs)
	}
	if code, out, _ = run("broadcast", "pause", created["id"]); code != 0 || !strings.Contains(out, `"paused"`) {
		t.Errorf("pause: %d %s", code, out)
	}
	if code, out, _ = run("broadcast", "status", created["id"]); code != 0 || !strings.Contains(out, `"paused"`) {
		t.Errorf("status: %d %s", code, out)
	}
	if code, _, errs = run("jobs", "add", "--title", "Cook", "--employer", "E", "--sector", "care", "--location", "east", "--pay", "1",
		"--hours", "2", "--contact", "c", "--expires", "2099-01-01T00:00:00Z", "--written-contract", "--employer-vetted"); code != 1 || !strings.Contains(errs, "no_fees") {
		t.Errorf("unfair job: %d %q", code, errs)
	}
	if code, out, _ = run("jobs", "add", "--title", "Cook", "--employer", "E", "--sector", "care", "--location", "east", "--pay", "1",
		"--hours", "2", "--contact", "c", "--expires", "2099-01-01T00:00:00Z", "--no-fees", "--written-contract", "--employer-vetted"); code != 0 || !strings.Contains(out, `"alert_id"`) {
		t.Errorf("job: %d %s", code, out)
	}
	if code, out, _ = run("broadcast", "reminders", "on", "--every", "weekly"); code != 0 || !strings.Contains(out, `"on": true`) {
		t.Errorf("reminders: %d %s", code, out)
	}
	for _, bad := range [][]string{{"broadcast"}, {"broadcast", "explode"}, {"broadcast", "send", "--at", "tomorrow", "--text", "en=x"}, {"jobs", "delete"}} {
		if code, _, _ := run(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if code, _, _ := run("broadcast", "status", "nosuch"); code != 1 {
		t.Errorf("unknown id: exit %d", code)
	}
}

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

// TestStaffActionsAreAudited: every staff operation leaves one entry in the
// append-only audit stream, naming the broadcast or job.
func TestStaffActionsAreAudited(t *testing.T) {
	st := newStore(t)
	p := newProc(t, st, procOpts{chans: []bot.Channel{bottest.NewChannel("telegram")}})
	ctx := context.Background()
	id, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "A reminder"}, SendAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Cancel(ctx, id); err == nil {
		t.Fatal("cancelling twice should fail")
	}
	log, err := st.AuditLog(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		if e.Target != id || e.Actor != "staff" {
			t.Errorf("entry %+v", e)
		}
		got = append(got, e.Action)
	}
	if want := "broadcast.create broadcast.pause broadcast.cancel"; strings.Join(got, " ") != want {
		t.Fatalf("audit %q, want %q (a failed operation leaves no entry)", strings.Join(got, " "), want)
	}
}
