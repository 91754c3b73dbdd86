package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/locales"
	"github.com/lifeline-org/lifeline/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Session timeouts: a console left alone signs out after Idle; no session
// lasts longer than Absolute.
const (
	Idle     = 30 * time.Minute
	Absolute = 12 * time.Hour
)

// Sign-in limits: an account is locked after AccountFailures wrong
// sign-ins within FailureWindow (an admin lifts it); an address is refused
// for the rest of the window after AddressFailures.
const (
	AccountFailures = 5
	AddressFailures = 20
	FailureWindow   = 15 * time.Minute
)

const cookieName = "ll_console"

// Config is what the console needs. Texts is the console's own catalog
// (locales.LoadConsole); Content the survivors' content (for languages,
// lessons and completeness).
type Config struct {
	Store      *store.Store
	Accounts   *Accounts
	Texts      *locales.Catalog
	Content    *content.Content
	Broadcasts *broadcast.Service
	Figures    *checkin.Scheduler
	// Coaches is the coach module: the case queue and the workspace.
	Coaches *coach.Module
	// Sealer seals coaches' notes and plans, as everything personal.
	Sealer *store.Sealer
	// Targets are how long a case may wait for a coach, by priority
	// (default: urgent 15 minutes, normal 24 hours, low 72 hours).
	Targets map[string]time.Duration
	// Require2FA makes admins and supervisors set up a second factor
	// before they can use the console (CONSOLE_REQUIRE_2FA).
	Require2FA bool
	// Quiet are the hours broadcasts wait out (shown in the composer).
	Quiet bot.QuietHours
	// TZ is the programme's time zone: dates typed in the console are in it.
	TZ    *time.Location
	Clock func() time.Time
	Log   *slog.Logger
}

// Console is the staff web console, served under /console/.
type Console struct {
	cfg   Config
	st    *store.Store
	acc   *Accounts
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template
	langs []language.Tag
	match language.Matcher
}

// New builds the console from cfg; it fails if a template does not parse.
func New(cfg Config) (*Console, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.TZ == nil {
		cfg.TZ = time.UTC
	}
	targets := map[string]time.Duration{"urgent": 15 * time.Minute, "normal": 24 * time.Hour, "low": 72 * time.Hour}
	maps.Copy(targets, cfg.Targets) // never share the caller's map
	cfg.Targets = targets
	c := &Console{cfg: cfg, st: cfg.Store, acc: cfg.Accounts, log: cfg.Log, now: cfg.Clock, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		c.pages[base] = t
	}
	for _, l := range cfg.Texts.Languages() {
		c.langs = append(c.langs, language.Make(l))
	}
	c.match = language.NewMatcher(c.langs)
	return c, nil
}

// Areas of the console, and the roles that may use each.
const (
	areaAny      = "any"      // every signed-in account
	areaStaff    = "staff"    // broadcasts, reminders, jobs, content, audit, figures' CSV
	areaAccounts = "accounts" // accounts
	areaCases    = "cases"    // the case queue and the workspace
)

var areaRoles = map[string][]string{
	areaAny:      Roles,
	areaStaff:    {RoleAdmin, RoleSupervisor, RoleStaff},
	areaAccounts: {RoleAdmin},
	areaCases:    {RoleAdmin, RoleSupervisor, RoleCoach},
}

func can(role, area string) bool { return slices.Contains(areaRoles[area], role) }

// Register serves the console on mux under /console/. Every page sends
// the security headers; every form post must come from the console's own
// origin (403 otherwise).
func (c *Console) Register(mux *http.ServeMux) {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.log.Warn("cross-origin console request refused", "event", "console_cross_origin", "path", r.URL.Path)
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	handle := func(pattern, area string, f func(w http.ResponseWriter, r *http.Request, s *session) error) {
		mux.Handle(pattern, headers(cop.Handler(c.guard(area, f))))
	}
	open := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, headers(cop.Handler(f))) }

	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /console/static/", headers(http.StripPrefix("/console/static/", http.FileServerFS(static))))
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	open("GET /console/login", c.loginPage)
	open("POST /console/login", c.login)
	open("GET /console/welcome", c.welcomePage)
	open("POST /console/welcome", c.welcome)
	handle("POST /console/logout", areaAny, c.logout)

	handle("GET /console/{$}", areaAny, c.overview)
	handle("GET /console/figures.csv", areaAny, c.figuresCSV)
	handle("GET /console/account", areaAny, c.accountPage)
	handle("POST /console/account/{action}", areaAny, c.accountAction)

	handle("GET /console/broadcasts", areaStaff, c.broadcasts)
	handle("POST /console/broadcasts", areaStaff, c.composeBroadcast)
	handle("POST /console/broadcasts/preview", areaStaff, c.previewJSON)
	handle("GET /console/broadcasts/{id}/progress", areaStaff, c.progressJSON)
	handle("POST /console/broadcasts/{id}/{action}", areaStaff, c.broadcastAction)
	handle("GET /console/reminders", areaStaff, c.reminders)
	handle("POST /console/reminders", areaStaff, c.setReminders)
	handle("GET /console/jobs", areaStaff, c.jobs)
	handle("POST /console/jobs", areaStaff, c.postJob)
	handle("POST /console/jobs/{id}/delete", areaStaff, c.deleteJob)
	handle("GET /console/content", areaStaff, c.contentPage)
	handle("GET /console/content/lessons/{id}", areaStaff, c.lessonPage)
	handle("GET /console/audit", areaStaff, c.auditPage)
	handle("GET /console/audit.csv", areaStaff, c.auditCSV)

	handle("GET /console/cases", areaCases, c.cases)
	handle("GET /console/cases/events", areaCases, c.caseEvents)
	handle("GET /console/cases/{alias}", areaCases, c.casePage)
	handle("POST /console/cases/{alias}/{action}", areaCases, c.caseAction)

	handle("GET /console/accounts", areaAccounts, c.accounts)
	handle("POST /console/accounts", areaAccounts, c.addAccount)
	handle("POST /console/accounts/{name}/{action}", areaAccounts, c.accountAdmin)
}

// headers sets the console's security headers: a Content-Security-Policy
// without inline script or style, no framing, no referrer to elsewhere,
// and nothing cached.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// session is a signed-in request: who, in which language.
type session struct {
	acct store.Account
	hash string
	lang string
	// enrol: the account must set up a second factor first.
	enrol bool
}

func (s *session) actor() string { return actor(s.acct) }

// guard lets a request through to f when it carries a live session of an
// enabled account whose role may use area: a page redirects to the sign-in
// form otherwise, and a role without the right gets 403.
func (c *Console) guard(area string, f func(w http.ResponseWriter, r *http.Request, s *session) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if !errors.Is(err, store.ErrNoSession) {
				c.log.Error("console session not read", "event", "console_session_failed", "error", err)
				http.Error(w, "the console cannot reach its store; try again", http.StatusServiceUnavailable)
				return
			}
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, ".json") && !strings.HasSuffix(r.URL.Path, "/progress") {
				http.Redirect(w, r, "/console/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if !can(s.acct.Role, area) {
			c.log.Warn("console page refused", "event", "console_forbidden", "role", s.acct.Role, "path", r.URL.Path)
			w.WriteHeader(http.StatusForbidden)
			c.render(w, r, s, "forbidden", nil)
			return
		}
		if s.enrol && r.URL.Path != "/console/account" && !strings.HasPrefix(r.URL.Path, "/console/account/") && r.URL.Path != "/console/logout" {
			http.Redirect(w, r, "/console/account?enrol=1", http.StatusSeeOther)
			return
		}
		ctx := bot.WithActor(r.Context(), s.actor())
		if err := f(w, r.WithContext(ctx), s); err != nil {
			c.fail(w, r, s, err)
		}
	})
}

// session reads the request's console session, refreshing its idle timer.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil, store.ErrNoSession
	}
	hash := digest(ck.Value)
	now := c.now()
	cs, err := c.st.TouchConsoleSession(r.Context(), hash, now, Idle)
	if err != nil {
		return nil, err
	}
	acct, err := c.st.GetAccount(r.Context(), cs.Account)
	// Redis ends an idle session by its TTL; the times are checked here too,
	// against the console's clock.
	if errors.Is(err, store.ErrNoAccount) || err == nil && (acct.Disabled || now.Sub(cs.Created) > Absolute || now.Sub(cs.Seen) > Idle) {
		_ = c.st.EndConsoleSession(r.Context(), hash, cs.Account)
		return nil, store.ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	s := &session{acct: acct, hash: hash, lang: c.language(r, acct.Lang)}
	s.enrol = c.cfg.Require2FA && len(acct.TOTP) == 0 && (acct.Role == RoleAdmin || acct.Role == RoleSupervisor)
	return s, nil
}

// language picks the console language: the account's choice, else the
// browser's Accept-Language, else the default.
func (c *Console) language(r *http.Request, chosen string) string {
	if chosen != "" && c.cfg.Texts.Has(chosen) {
		return chosen
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if len(tags) == 0 {
		return c.cfg.Texts.Default()
	}
	_, i, conf := c.match.Match(tags...)
	if conf == language.No {
		return c.cfg.Texts.Default()
	}
	return c.langs[i].String()
}

// startSession signs acct in: a new random id in an HttpOnly, SameSite=Lax
// cookie, Secure except on a plain localhost address.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, acct store.Account) error {
	id := secret()
	if err := c.st.StartConsoleSession(r.Context(), digest(id), acct.Name, c.now(), Idle); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/console/", HttpOnly: true,
		Secure: !localhost(r), SameSite: http.SameSiteLaxMode, MaxAge: int(Absolute / time.Second)})
	return nil
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", HttpOnly: true,
		Secure: !localhost(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// localhost reports a plain-HTTP request to this machine itself, where a
// Secure cookie would never come back.
func localhost(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// page is what every template gets.
type page struct {
	Lang, Dir string
	Name      string // the page, for the navigation's aria-current
	Account   *store.Account
	Nav       []navItem
	Flash     string
	Error     string
	Data      any
	texts     *locales.Catalog
}

type navItem struct {
	Href, Label, Name string
}

// T renders the console text id in the page's language; args are name,
// value pairs.
func (p *page) T(id string, args ...any) string {
	data := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		data[toString(args[i])] = toString(args[i+1])
	}
	s, err := p.texts.Text(p.Lang, id, data)
	if err != nil && s == "" {
		return id
	}
	return s
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, name string, data any) {
	p := &page{Name: name, Data: data, texts: c.cfg.Texts}
	if s != nil {
		p.Lang = s.lang
		p.Account = &s.acct
		for _, n := range []struct{ name, area, href string }{
			{"overview", areaAny, "/console/"},
			{"cases", areaCases, "/console/cases"},
			{"broadcasts", areaStaff, "/console/broadcasts"},
			{"reminders", areaStaff, "/console/reminders"},
			{"jobs", areaStaff, "/console/jobs"},
			{"content", areaStaff, "/console/content"},
			{"audit", areaStaff, "/console/audit"},
			{"accounts", areaAccounts, "/console/accounts"},
			{"account", areaAny, "/console/account"},
		} {
			if can(s.acct.Role, n.area) && !s.enrol {
				p.Nav = append(p.Nav, navItem{Href: n.href, Label: p.T("console.nav." + n.name), Name: n.name})
			}
		}
	} else {
		p.Lang = c.language(r, "")
	}
	p.Dir = "ltr"
	if flows.RightToLeft(p.Lang) {
		p.Dir = "rtl"
	}
	if f, ok := data.(interface{ flash() (string, string) }); ok {
		p.Flash, p.Error = f.flash()
	}
	t := c.pages[name]
	if t == nil {
		c.log.Error("console page has no template", "event", "console_template_missing", "page", name)
		http.Error(w, "page missing", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console page not rendered", "event", "console_render_failed", "page", name, "error", err)
		http.Error(w, "page not rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// userError is a refusal the person can correct: shown on the page in
// their language, with Status.
type userError struct {
	Status int
	ID     string // console text id
	Args   []any
}

func (e *userError) Error() string { return e.ID }

func refuse(status int, id string, args ...any) error { return &userError{status, id, args} }

// fail answers an error from a page: a userError as a page in the
// person's language, anything else as a 500 with a log line.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if ue, ok := errors.AsType[*userError](err); ok {
		w.WriteHeader(ue.Status)
		c.render(w, r, s, "error", ue)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	c.log.Error("console request failed", "event", "console_failed", "path", r.URL.Path, "error", err)
	w.WriteHeader(http.StatusInternalServerError)
	c.render(w, r, s, "error", &userError{Status: 500, ID: "console.error.internal"})
}

// audit writes a console action to the audit log.
func (c *Console) audit(ctx context.Context, s *session, action, target string) {
	name := "console"
	if s != nil {
		name = s.actor()
	}
	if err := c.st.Audit(ctx, c.now(), name, action, target); err != nil {
		c.log.Error("audit entry not written", "event", "audit_failed", "error", err)
	}
}

// clientIP is the address sign-in failures are counted against: the
// peer, as the webhooks' rate limit counts it (a header could be forged).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
