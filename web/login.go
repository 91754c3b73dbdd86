package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lifeline-org/lifeline/store"
)

var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

var funcs = template.FuncMap{
	"pct": func(a, b int64) int64 {
		if b <= 0 {
			return 0
		}
		return a * 100 / b
	},
	"join": strings.Join,
	"add3": func(a, b, c int64) int64 { return a + b + c },
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}

// form carries a page's message after a post.
type form struct {
	Msg, Err string
	Values   map[string]string
}

func (f *form) flash() (string, string) { return f.Msg, f.Err }

type loginData struct {
	form
	Name string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.session(r); err == nil && s != nil {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	d := &loginData{}
	if r.URL.Query().Get("out") == "1" {
		d.Msg = "console.login.signed_out"
	}
	c.render(w, r, nil, "login", d)
}

// login checks name, password and (when the account has one) code. Every
// failure looks the same to the browser, but for a locked account, which
// must know to ask an admin; failures count per account and per address.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name := strings.TrimSpace(r.PostFormValue("name"))
	pw := r.PostFormValue("password")
	code := r.PostFormValue("code")
	ip := "ip:" + clientIP(r)
	refuse := func(status int, msg string) {
		w.WriteHeader(status)
		c.render(w, r, nil, "login", &loginData{form: form{Err: msg}, Name: name})
	}
	if n, err := c.st.Failures(ctx, ip); err != nil {
		c.unavailable(w, err)
		return
	} else if n >= AddressFailures {
		c.log.Warn("console sign-in refused: too many failures from this address", "event", "console_ip_limited")
		refuse(http.StatusTooManyRequests, "console.login.slow_down")
		return
	}
	acct, err := c.st.GetAccount(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNoAccount) {
		c.unavailable(w, err)
		return
	}
	known := err == nil && ValidName(name)
	pwOK := checkPassword(acct.Password, pw) && known
	if known && acct.Locked {
		c.log.Warn("console sign-in refused: account locked", "event", "console_locked")
		c.audit(ctx, nil, "login.locked", name)
		refuse(http.StatusForbidden, "console.login.locked")
		return
	}
	ok := pwOK && !acct.Disabled
	if ok && len(acct.TOTP) > 0 {
		if strings.TrimSpace(code) == "" {
			// The password was right: ask for the code, without counting a failure.
			w.WriteHeader(http.StatusUnauthorized)
			c.render(w, r, nil, "login", &loginData{form: form{Err: "console.login.need_code"}, Name: name})
			return
		}
		ok = c.acc.checkTOTP(acct, code)
	}
	if !ok {
		if _, err := c.st.CountFailure(ctx, ip, FailureWindow); err != nil {
			c.unavailable(w, err)
			return
		}
		if known {
			n, err := c.st.CountFailure(ctx, "acct:"+name, FailureWindow)
			if err != nil {
				c.unavailable(w, err)
				return
			}
			if n >= AccountFailures {
				if err := c.st.UpdateAccount(ctx, name, map[string]string{"locked": "1"}); err != nil {
					c.unavailable(w, err)
					return
				}
				c.log.Warn("console account locked after failed sign-ins", "event", "console_lockout")
				c.audit(ctx, nil, "account.lockout", name)
			}
		}
		c.log.Info("console sign-in failed", "event", "console_login_failed")
		refuse(http.StatusUnauthorized, "console.login.wrong")
		return
	}
	if err := c.st.ClearFailures(ctx, "acct:"+name); err != nil {
		c.unavailable(w, err)
		return
	}
	if err := c.startSession(w, r, acct); err != nil {
		c.unavailable(w, err)
		return
	}
	c.audit(ctx, &session{acct: acct}, "login", name)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) unavailable(w http.ResponseWriter, err error) {
	c.log.Error("console store unavailable", "event", "console_store_failed", "error", err)
	http.Error(w, "the console cannot reach its store; try again", http.StatusServiceUnavailable)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.st.EndConsoleSession(r.Context(), s.hash, s.acct.Name); err != nil {
		return err
	}
	c.audit(r.Context(), s, "logout", s.acct.Name)
	clearCookie(w, r)
	http.Redirect(w, r, "/console/login?out=1", http.StatusSeeOther)
	return nil
}

type welcomeData struct {
	form
	Token, Name string
	Min         int
}

// welcomePage is where a one-time sign-in link leads: the person sets a
// password.
func (c *Console) welcomePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	name, err := c.acc.LinkAccount(r.Context(), token)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		c.render(w, r, nil, "welcome", &welcomeData{form: form{Err: "console.welcome.expired"}})
		return
	}
	c.render(w, r, nil, "welcome", &welcomeData{Token: token, Name: name, Min: MinPassword})
}

func (c *Console) welcome(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	token := r.PostFormValue("t")
	pw, again := r.PostFormValue("password"), r.PostFormValue("again")
	name, err := c.acc.LinkAccount(r.Context(), token)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		c.render(w, r, nil, "welcome", &welcomeData{form: form{Err: "console.welcome.expired"}})
		return
	}
	if pw != again {
		w.WriteHeader(http.StatusBadRequest)
		c.render(w, r, nil, "welcome", &welcomeData{form: form{Err: "console.welcome.mismatch"}, Token: token, Name: name, Min: MinPassword})
		return
	}
	if _, err := c.acc.UseLink(r.Context(), token, pw); err != nil {
		if errors.Is(err, ErrWeakPassword) {
			w.WriteHeader(http.StatusBadRequest)
			c.render(w, r, nil, "welcome", &welcomeData{form: form{Err: "console.welcome.short"}, Token: token, Name: name, Min: MinPassword})
			return
		}
		c.unavailable(w, err)
		return
	}
	acct, err := c.st.GetAccount(r.Context(), name)
	if err != nil {
		c.unavailable(w, err)
		return
	}
	if err := c.startSession(w, r, acct); err != nil {
		c.unavailable(w, err)
		return
	}
	c.audit(r.Context(), &session{acct: acct}, "account.password_set", name)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

type accountData struct {
	form
	Enrol     bool
	Has2FA    bool
	Secret    string
	URL       string
	Languages []langChoice
	Tokens    []store.APIToken
	NewToken  string
}

type langChoice struct {
	Tag, Name string
	Chosen    bool
}

// accountPage is the signed-in person's own account: language, password,
// second factor, API tokens, signing out everywhere.
func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.accountData(r, s)
	if err != nil {
		return err
	}
	d.Enrol = s.enrol
	c.render(w, r, s, "account", d)
	return nil
}

func (c *Console) accountData(r *http.Request, s *session) (*accountData, error) {
	d := &accountData{Has2FA: len(s.acct.TOTP) > 0}
	for _, l := range c.cfg.Texts.Languages() {
		d.Languages = append(d.Languages, langChoice{Tag: l, Name: c.cfg.Texts.Raw(l, "console.lang.name"), Chosen: l == s.acct.Lang})
	}
	toks, err := c.st.APITokens(r.Context(), s.acct.Name)
	if err != nil {
		return nil, err
	}
	d.Tokens = toks
	return d, nil
}

func (c *Console) accountAction(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	d, err := c.accountData(r, s)
	if err != nil {
		return err
	}
	d.Enrol = s.enrol
	action := r.PathValue("action")
	switch action {
	case "language":
		lang := r.PostFormValue("lang")
		if lang != "" && !c.cfg.Texts.Has(lang) {
			return refuse(http.StatusBadRequest, "console.error.bad_input")
		}
		if err := c.acc.SetLanguage(ctx, s.acct.Name, lang); err != nil {
			return err
		}
		c.audit(ctx, s, "account.language", lang)
		http.Redirect(w, r, "/console/account", http.StatusSeeOther)
		return nil
	case "password":
		if !checkPassword(s.acct.Password, r.PostFormValue("current")) {
			d.Err = "console.account.wrong_current"
			break
		}
		if r.PostFormValue("password") != r.PostFormValue("again") {
			d.Err = "console.welcome.mismatch"
			break
		}
		if err := c.acc.SetPassword(ctx, s.acct.Name, r.PostFormValue("password")); err != nil {
			if !errors.Is(err, ErrWeakPassword) {
				return err
			}
			d.Err = "console.welcome.short"
			break
		}
		c.audit(ctx, s, "account.password", s.acct.Name)
		d.Msg = "console.account.password_changed"
	case "2fa-start":
		d.Secret, d.URL, err = c.acc.NewTOTP(s.acct.Name)
		if err != nil {
			return err
		}
	case "2fa-confirm":
		key := r.PostFormValue("secret")
		if err := c.acc.ConfirmTOTP(ctx, s.acct.Name, key, r.PostFormValue("code")); err != nil {
			if !errors.Is(err, ErrBadCode) {
				return err
			}
			d.Secret, d.Err = key, "console.account.bad_code"
			break
		}
		c.audit(ctx, s, "account.2fa_on", s.acct.Name)
		http.Redirect(w, r, "/console/account?done=2fa", http.StatusSeeOther)
		return nil
	case "token":
		label := strings.TrimSpace(r.PostFormValue("label"))
		if label == "" || len(label) > 60 {
			d.Err = "console.account.token_label"
			break
		}
		if !can(s.acct.Role, areaStaff) {
			return refuse(http.StatusForbidden, "console.error.forbidden")
		}
		tok, err := c.acc.NewToken(ctx, s.acct.Name, label)
		if err != nil {
			return err
		}
		c.audit(ctx, s, "token.create", label)
		d.NewToken = tok
		if d.Tokens, err = c.st.APITokens(ctx, s.acct.Name); err != nil {
			return err
		}
	case "revoke":
		if err := c.st.RevokeAPIToken(ctx, s.acct.Name, r.PostFormValue("hash")); err != nil {
			return err
		}
		c.audit(ctx, s, "token.revoke", s.acct.Name)
		http.Redirect(w, r, "/console/account", http.StatusSeeOther)
		return nil
	case "signout-all":
		if err := c.st.EndAllConsoleSessions(ctx, s.acct.Name); err != nil {
			return err
		}
		c.audit(ctx, s, "logout.everywhere", s.acct.Name)
		clearCookie(w, r)
		http.Redirect(w, r, "/console/login?out=1", http.StatusSeeOther)
		return nil
	default:
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	if d.Err != "" {
		w.WriteHeader(http.StatusBadRequest)
	}
	c.render(w, r, s, "account", d)
	return nil
}
