package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/locales"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/web"
)

// env is a console on a test server, on a real Redis, with a clock the
// test moves.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	st    *store.Store
	acc   *web.Accounts
	clock *bottest.Clock
	bc    *broadcast.Service
}

func newEnv(t *testing.T, require2FA bool) *env {
	t.Helper()
	clock := bottest.NewClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	h := bottest.Start(t, bottest.Idle())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	acc := web.NewAccounts(h.Store, h.RT.Sealer(), clock.Now)
	texts, err := locales.LoadConsole(nil)
	if err != nil {
		t.Fatal(err)
	}
	bc := broadcast.New(broadcast.Config{Runtime: h.RT, Clock: clock.Now, Log: log})
	sched := checkin.New(checkin.Config{Runtime: h.RT, Clock: clock.Now, Log: log})
	con, err := web.New(web.Config{Store: h.Store, Accounts: acc, Texts: texts, Content: h.RT.Content(), Broadcasts: bc,
		Figures: sched, Require2FA: require2FA, Clock: clock.Now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	con.Register(mux)
	bc.Register(mux, bot.Gates{acc, bot.StaticToken("shared-secret")})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: h.Store, acc: acc, clock: clock, bc: bc}
}

// account makes an account with a password.
func (e *env) account(name, role string) {
	e.t.Helper()
	tok, err := e.acc.Add(context.Background(), name, role)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.acc.UseLink(context.Background(), tok, name+"-password-long"); err != nil {
		e.t.Fatal(err)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// post sends a same-origin form post, as a browser on the console does.
func (e *env) post(c *http.Client, path string, form url.Values, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func (e *env) get(c *http.Client, path string) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (e *env) signIn(name string, extra ...string) *http.Client {
	e.t.Helper()
	c := e.browser()
	form := url.Values{"name": {name}, "password": {name + "-password-long"}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp := e.post(c, "/console/login", form)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		e.t.Fatalf("sign-in of %s: %d %s", name, resp.StatusCode, resp.Header.Get("Location"))
	}
	return c
}

// TestPermissions is the table of role × page: who may open what.
func TestPermissions(t *testing.T) {
	e := newEnv(t, false)
	for _, r := range web.Roles {
		e.account("a-"+r, r)
	}
	clients := map[string]*http.Client{"none": e.browser()}
	for _, r := range web.Roles {
		clients[r] = e.signIn("a-" + r)
	}
	const (
		ok   = http.StatusOK
		no   = http.StatusForbidden
		away = http.StatusSeeOther // to the sign-in form
	)
	for _, tc := range []struct {
		path string
		want map[string]int // by role; "none" is signed out
	}{
		{"/console/", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": ok}},
		{"/console/account", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": ok}},
		{"/console/broadcasts", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": no}},
		{"/console/reminders", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": no}},
		{"/console/jobs", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": no}},
		{"/console/content", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": no}},
		{"/console/content/lessons/lesson_debt", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": no}},
		{"/console/audit", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": no}},
		{"/console/audit.csv", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": no}},
		{"/console/figures.csv?by=channel", map[string]int{"none": away, "admin": ok, "supervisor": ok, "staff": ok, "coach": ok}},
		{"/console/accounts", map[string]int{"none": away, "admin": ok, "supervisor": no, "staff": no, "coach": no}},
		{"/console/login", map[string]int{"none": ok, "admin": away, "supervisor": away, "staff": away, "coach": away}},
	} {
		for role, want := range tc.want {
			resp, body := e.get(clients[role], tc.path)
			if resp.StatusCode != want {
				t.Errorf("%s as %s: %d, want %d", tc.path, role, resp.StatusCode, want)
			}
			if want == away && role == "none" && resp.Header.Get("Location") != "/console/login" {
				t.Errorf("%s signed out: sent to %q, want the sign-in form", tc.path, resp.Header.Get("Location"))
			}
			if want == no && !strings.Contains(body, "Your account cannot open this page.") {
				t.Errorf("%s as %s: the 403 page does not say why", tc.path, role)
			}
		}
	}
	// Posts follow the same rules: a coach cannot send a broadcast or add
	// an account, staff cannot add an account.
	for _, tc := range []struct {
		role, path string
		want       int
	}{
		{"coach", "/console/broadcasts", no},
		{"coach", "/console/jobs", no},
		{"coach", "/console/reminders", no},
		{"staff", "/console/accounts", no},
		{"supervisor", "/console/accounts/a-staff/disable", no},
		{"none", "/console/broadcasts", http.StatusUnauthorized},
	} {
		resp := e.post(clients[tc.role], tc.path, url.Values{"text.en": {"hello"}, "do": {"send"}, "name": {"x1"}, "role": {"admin"}})
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s as %s: %d, want %d", tc.path, tc.role, resp.StatusCode, tc.want)
		}
	}
	if list, _ := e.bc.List(context.Background(), 10); len(list) != 0 {
		t.Errorf("a refused post made broadcasts: %+v", list)
	}
	if _, err := e.st.GetAccount(context.Background(), "x1"); err == nil {
		t.Error("a refused post made an account")
	}
}

// TestSecurityHeadersAndCrossOrigin: every page sends a CSP without inline
// script, refuses framing, and a form post from another origin gets 403
// and does nothing.
func TestSecurityHeadersAndCrossOrigin(t *testing.T) {
	e := newEnv(t, false)
	e.account("amina", web.RoleStaff)
	c := e.signIn("amina")
	for _, path := range []string{"/console/login", "/console/", "/console/broadcasts"} {
		resp, _ := e.get(c, path)
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("Referrer-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
	} {
		resp := e.post(c, "/console/broadcasts", url.Values{"text.en": {"forged"}, "do": {"send"}, "rest": {"1"}}, hdr...)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin post %v: %d, want 403", hdr, resp.StatusCode)
		}
	}
	if list, _ := e.bc.List(context.Background(), 10); len(list) != 0 {
		t.Errorf("a cross-origin post made a broadcast: %+v", list)
	}
	// The cookie: HttpOnly, SameSite=Lax; Secure except on localhost.
	req := httptest.NewRequest(http.MethodPost, "https://lifeline.example/console/login", strings.NewReader("name=amina&password=amina-password-long"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.srv.Config.Handler.ServeHTTP(rec, req)
	ck := rec.Result().Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || !ck[0].Secure || ck[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie on a public host: %+v", ck)
	}
}

// TestLockOutAndTimeouts: five wrong passwords lock an account until an
// admin unlocks it; a session ends after 30 idle minutes and after 12
// hours whatever happens; signing out everywhere ends every session.
func TestLockOutAndTimeouts(t *testing.T) {
	e := newEnv(t, false)
	e.account("amina", web.RoleStaff)
	e.account("root", web.RoleAdmin)
	wrong := e.browser()
	for i := range web.AccountFailures {
		resp := e.post(wrong, "/console/login", url.Values{"name": {"amina"}, "password": {"guess-number-" + string(rune('a'+i))}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := e.post(wrong, "/console/login", url.Values{"name": {"amina"}, "password": {"amina-password-long"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "locked") {
		t.Fatalf("the right password after five wrong ones: %d\n%s", resp.StatusCode, b)
	}
	admin := e.signIn("root")
	resp = e.post(admin, "/console/accounts/amina/unlock", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock: %d", resp.StatusCode)
	}
	c := e.signIn("amina")

	// Idle: 29 minutes between pages is fine, 31 is not.
	e.clock.Add(29 * time.Minute)
	if r, _ := e.get(c, "/console/"); r.StatusCode != http.StatusOK {
		t.Fatalf("after 29 idle minutes: %d", r.StatusCode)
	}
	e.clock.Add(31 * time.Minute)
	if r, _ := e.get(c, "/console/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after 31 idle minutes: %d, want the sign-in form", r.StatusCode)
	}
	// Absolute: busy for more than 12 hours still ends.
	c = e.signIn("amina")
	for range 12*2 + 1 {
		e.clock.Add(29 * time.Minute)
		e.get(c, "/console/account")
	}
	if r, _ := e.get(c, "/console/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after more than 12 hours: %d, want the sign-in form", r.StatusCode)
	}
	// Everywhere: two browsers, one signs out everywhere.
	c1, c2 := e.signIn("amina"), e.signIn("amina")
	resp = e.post(c1, "/console/account/signout-all", nil)
	resp.Body.Close()
	if r, _ := e.get(c2, "/console/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the other browser after sign-out everywhere: %d", r.StatusCode)
	}
	// The audit log names who did what.
	entries, err := e.st.AuditRecent(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, en.Actor+" "+en.Action+" "+en.Target)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"console account.lockout amina", "admin:root account.unlock amina", "staff:amina login amina", "staff:amina logout.everywhere amina"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log lacks %q:\n%s", want, all)
		}
	}
}

// TestSecondFactor: with CONSOLE_REQUIRE_2FA an admin must set up TOTP
// before anything else; afterwards signing in needs the code.
func TestSecondFactor(t *testing.T) {
	e := newEnv(t, true)
	e.account("root", web.RoleAdmin)
	c := e.signIn("root")
	if r, _ := e.get(c, "/console/broadcasts"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/account?enrol=1" {
		t.Fatalf("an admin without a second factor: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	resp := e.post(c, "/console/account/2fa-start", nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, after, ok := strings.Cut(string(b), `name="secret" value="`)
	if !ok {
		t.Fatalf("no key offered:\n%s", b)
	}
	key, _, _ := strings.Cut(after, `"`)
	resp = e.post(c, "/console/account/2fa-confirm", url.Values{"secret": {key}, "code": {"000000"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a wrong code: %d", resp.StatusCode)
	}
	code, _ := totp.GenerateCode(key, e.clock.Now())
	resp = e.post(c, "/console/account/2fa-confirm", url.Values{"secret": {key}, "code": {code}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right code: %d", resp.StatusCode)
	}
	if r, _ := e.get(c, "/console/broadcasts"); r.StatusCode != http.StatusOK {
		t.Errorf("after enrolling: %d", r.StatusCode)
	}
	// Signing in now needs the code; the key is sealed in Redis.
	nocode := e.browser()
	resp = e.post(nocode, "/console/login", url.Values{"name": {"root"}, "password": {"root-password-long"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the code: %d", resp.StatusCode)
	}
	e.clock.Add(time.Minute)
	code, _ = totp.GenerateCode(key, e.clock.Now())
	e.signIn("root", "code", code)
	raw, err := e.st.GetAccount(context.Background(), "root")
	if err != nil || strings.Contains(string(raw.TOTP), key) || len(raw.TOTP) == 0 {
		t.Errorf("the TOTP key is not sealed at rest")
	}
}

// TestAPITokens: a token made in the console drives the staff API and the
// audit log names its account; a coach cannot make one; a revoked token
// and a disabled account's token stop working; the shared token still
// works as "staff".
func TestAPITokens(t *testing.T) {
	e := newEnv(t, false)
	e.account("amina", web.RoleStaff)
	e.account("cora", web.RoleCoach)
	c := e.signIn("amina")
	resp := e.post(c, "/console/account/token", url.Values{"label": {"nightly script"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, after, ok := strings.Cut(string(b), `id="newtok" readonly value="`)
	if !ok {
		t.Fatalf("no token shown:\n%s", b)
	}
	tok, _, _ := strings.Cut(after, `"`)
	api := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/broadcasts", strings.NewReader(`{"text":{"en":"from a script"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := api(tok); code != http.StatusCreated {
		t.Fatalf("the account's token: %d", code)
	}
	if code := api("shared-secret"); code != http.StatusCreated {
		t.Errorf("the shared token: %d", code)
	}
	entries, _ := e.st.AuditRecent(context.Background(), 20)
	var actors []string
	for _, en := range entries {
		if en.Action == "broadcast.create" {
			actors = append(actors, en.Actor)
		}
	}
	if strings.Join(actors, ",") != "staff,staff:amina" {
		t.Errorf("broadcast.create actors %v, want the shared token's then amina's", actors)
	}
	coach := e.signIn("cora")
	resp = e.post(coach, "/console/account/token", url.Values{"label": {"x"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a coach making an API token: %d", resp.StatusCode)
	}
	if err := e.acc.Disable(context.Background(), "amina"); err != nil {
		t.Fatal(err)
	}
	if code := api(tok); code != http.StatusUnauthorized {
		t.Errorf("a disabled account's token: %d", code)
	}
	if code := api("llt_not-a-token"); code != http.StatusUnauthorized {
		t.Errorf("an unknown token: %d", code)
	}
	// Tokens and sessions are kept only as hashes.
	keys, _ := e.st.Redis().Keys(context.Background(), "*").Result()
	for _, k := range keys {
		if strings.Contains(k, tok) {
			t.Errorf("the token is in a key: %s", k)
		}
	}
}

// TestConsoleLanguage: the page follows the browser's Accept-Language
// until the person picks a language; Arabic pages are right to left.
func TestConsoleLanguage(t *testing.T) {
	e := newEnv(t, false)
	e.account("amina", web.RoleStaff)
	for _, tc := range []struct{ accept, lang, dir, word string }{
		{"es-MX,es;q=0.9", "es", "ltr", "Contraseña"},
		{"fr-CA", "fr", "ltr", "Mot de passe"},
		{"ar-EG,ar;q=0.9,en;q=0.5", "ar", "rtl", "كلمة"},
		{"de-DE", "en", "ltr", "Password"},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/console/login", nil)
		req.Header.Set("Accept-Language", tc.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if !strings.Contains(page, `lang="`+tc.lang+`" dir="`+tc.dir+`"`) || !strings.Contains(page, tc.word) {
			t.Errorf("Accept-Language %s: want lang %s dir %s with %q", tc.accept, tc.lang, tc.dir, tc.word)
		}
	}
	c := e.signIn("amina")
	resp := e.post(c, "/console/account/language", url.Values{"lang": {"fr"}})
	resp.Body.Close()
	if _, page := e.get(c, "/console/"); !strings.Contains(page, `lang="fr"`) {
		t.Error("the chosen language is not used")
	}
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

// TestBroadcastComposer: the preview shows each text's SMS encoding and
// segments and the audience's reach; missing languages need "send the
// default to the rest"; an urgent broadcast asks once more; the live
// counts answer as JSON.
func TestBroadcastComposer(t *testing.T) {
	e := newEnv(t, false)
	e.account("amina", web.RoleStaff)
	c := e.signIn("amina")
	long := strings.Repeat("Your rights at work. ", 8) // 167 GSM-7 characters once trimmed: 2 SMS
	form := url.Values{"text.en": {long}, "text.ar": {"حقوقك في العمل لا تنتهي"}, "do": {"preview"}}
	page := body(t, e.post(c, "/console/broadcasts", form))
	for _, want := range []string{"167 characters · GSM-7 · 2 SMS", "23 characters · UCS-2 · 1 SMS", `class="bubble tg"`, "It will reach 0 people"} {
		if !strings.Contains(page, want) {
			t.Errorf("preview lacks %q", want)
		}
	}
	form.Set("do", "send")
	resp := e.post(c, "/console/broadcasts", form)
	if page := body(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Some languages have no text") {
		t.Errorf("send with languages missing: %d", resp.StatusCode)
	}
	form.Set("rest", "1")
	form.Set("urgent", "1")
	resp = e.post(c, "/console/broadcasts", form)
	if page := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(page, "light up a phone at night") {
		t.Errorf("urgent without confirmation: %d", resp.StatusCode)
	}
	if list, _ := e.bc.List(context.Background(), 10); len(list) != 0 {
		t.Fatalf("a broadcast was made before confirmation: %+v", list)
	}
	form.Set("confirm", "1")
	form.Set("send_at", "2026-12-24T10:00")
	resp = e.post(c, "/console/broadcasts", form)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed send: %d", resp.StatusCode)
	}
	list, _ := e.bc.List(context.Background(), 10)
	if len(list) != 1 || list[0].Status != broadcast.StatusScheduled || !list[0].SendAt.Equal(time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("broadcasts %+v", list)
	}
	// The live counts and the progress, as the page's script reads them.
	resp = e.post(c, "/console/broadcasts/preview", url.Values{"text.en": {"€"}, "channel": {"sms"}})
	var live struct {
		Counts    map[string]string `json:"counts"`
		ReachText string            `json:"reach_text"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&live); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if live.Counts["en"] != "2 characters · GSM-7 · 1 SMS" || !strings.Contains(live.ReachText, "0 people") {
		t.Errorf("live counts %+v", live)
	}
	r, page := e.get(c, "/console/broadcasts/"+list[0].ID+"/progress")
	if r.StatusCode != http.StatusOK || !strings.Contains(page, `"status":"scheduled"`) {
		t.Errorf("progress: %d %s", r.StatusCode, page)
	}
	if r, _ := e.get(c, "/console/broadcasts/nosuchid/progress"); r.StatusCode != http.StatusNotFound {
		t.Errorf("progress of no broadcast: %d", r.StatusCode)
	}
	resp = e.post(c, "/console/broadcasts/"+list[0].ID+"/cancel", nil)
	resp.Body.Close()
	if st, _ := e.bc.Get(context.Background(), list[0].ID); st.Status != broadcast.StatusCancelled {
		t.Errorf("after cancel: %s", st.Status)
	}
}

// TestJobsPage: a job without the fair-recruitment checks is refused with
// the reason; with them it is posted and listed with its matches.
func TestJobsPage(t *testing.T) {
	e := newEnv(t, false)
	e.account("amina", web.RoleStaff)
	c := e.signIn("amina")
	_, page := e.get(c, "/console/jobs")
	if !strings.Contains(page, `name="sector"`) || !strings.Contains(page, "<option value=") {
		t.Fatal("no sector list on the jobs page")
	}
	_, sector, _ := strings.Cut(page, `<select id="sector" name="sector"><option value="`)
	sector, _, _ = strings.Cut(sector, `"`)
	_, place, _ := strings.Cut(page, `<select id="location" name="location"><option value="`)
	place, _, _ = strings.Cut(place, `"`)
	job := url.Values{"title": {"Kitchen helper"}, "employer": {"Hotel Sol S.A."}, "sector": {sector}, "location": {place},
		"pay": {"12 USD/hour"}, "hours": {"40 a week"}, "contact": {"Ask your coach"}, "expires": {"2027-01-31"}}
	resp := e.post(c, "/console/jobs", job)
	if page := body(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "fair-recruitment") {
		t.Errorf("a job without the checks: %d", resp.StatusCode)
	}
	job.Set("no_fees", "1")
	job.Set("written_contract", "1")
	job.Set("employer_vetted", "1")
	resp = e.post(c, "/console/jobs", job)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a fair job: %d", resp.StatusCode)
	}
	_, page = e.get(c, "/console/jobs")
	if !strings.Contains(page, "Kitchen helper") || !strings.Contains(page, "Hotel Sol S.A.") || !strings.Contains(page, "Matching people") {
		t.Error("the posted job is not listed with its matches")
	}
	entries, _ := e.st.AuditRecent(context.Background(), 10)
	if len(entries) == 0 || entries[0].Action != "job.post" || entries[0].Actor != "staff:amina" {
		t.Errorf("latest audit entry %+v, want job.post by staff:amina", entries)
	}
}
