package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store/storetest"
	"github.com/lifeline-org/lifeline/web/webtest"
)

// consoleServer runs `lifeline serve` with Telegram and SMS on fakes and a
// private Redis, listening on a free local address, and returns them.
type consoleServer struct {
	t      *testing.T
	tg     *telegramtest.Server
	twilio *smstest.Server
	env    map[string]string
	url    string
	logs   *syncBuffer
	token  string
	sms    int
}

func startConsoleServer(t *testing.T) *consoleServer {
	t.Helper()
	return startConsoleServerEnv(t, nil)
}

// startConsoleServerEnv is startConsoleServer with more of the environment.
func startConsoleServerEnv(t *testing.T, extra map[string]string) *consoleServer {
	t.Helper()
	tg, twilio, srv := telegramtest.NewServer(t), smstest.NewServer(t), storetest.StartServer(t)
	const token = "twiliotoken123"
	env, public := smsEnv(t, twilio, srv, token)
	env["TELEGRAM_BOT_TOKEN"], env["TELEGRAM_API_URL"] = "123:abc", tg.URL
	// Broadcasts go at once, whatever the hour the test runs at.
	env["QUIET_HOURS"] = "off"
	for k, v := range extra {
		env[k] = v
	}
	logs := listening(t, env)
	return &consoleServer{t: t, tg: tg, twilio: twilio, env: env, url: public, logs: logs, token: token}
}

// cli runs a lifeline command against the same Redis, with stdin.
func (s *consoleServer) cli(stdin string, args ...string) (string, int) {
	s.t.Helper()
	var out, errs bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return s.env[k] }, strings.NewReader(stdin), &out, &errs)
	return out.String() + errs.String(), code
}

// text sends a signed SMS from from and waits for a reply holding want.
func (s *consoleServer) text(from, body, want string) {
	s.t.Helper()
	before := len(s.twilio.Bodies())
	s.send(from, body)
	waitFor(s.t, "an SMS reply containing "+want, func() bool {
		b := s.twilio.Bodies()
		return len(b) > before && strings.Contains(strings.Join(b[before:], "\n"), want)
	})
}

// send sends a signed SMS from from.
func (s *consoleServer) send(from, body string) {
	s.t.Helper()
	s.sms++
	form := url.Values{"MessageSid": {fmt.Sprintf("SM%032d", s.sms)}, "From": {from}, "To": {"+15005550006"}, "Body": {body}}
	if code := postSMS(s.t, s.url, s.token, form); code != http.StatusOK {
		s.t.Fatalf("webhook answered %d", code)
	}
}

func occurrences(list []string, s string) int {
	n := 0
	for _, x := range list {
		if strings.Contains(x, s) {
			n++
		}
	}
	return n
}

// signIn fills the sign-in form.
func signIn(b *webtest.Browser, base, name, password string) int64 {
	b.Do("open the sign-in form", chromedp.Navigate(base+"/console/login"),
		chromedp.SendKeys(chromedp.ID("name"), name), chromedp.SendKeys(chromedp.ID("password"), password))
	return b.Submit(`form button[type=submit]`)
}

// TestConsoleInBrowser drives the real console in headless Chromium
// against `lifeline serve` with a real Redis and the Telegram and Twilio
// fakes: an admin creates a staff account; staff set a password from the
// one-time link, write a broadcast in two languages, see the audience and
// the SMS segment counts, send it and watch the progress bar reach 100 %
// while each person gets it once; a cross-origin post is refused; a coach
// gets 403 on the broadcasts; five wrong passwords lock the account; the
// overview's figures are those of `lifeline stats`.
func TestConsoleInBrowser(t *testing.T) {
	s := startConsoleServer(t)
	// People: five on Telegram, one on SMS, all in English.
	chats := []int64{7100001, 7100002, 7100003, 7100004, 7100005}
	for _, chat := range chats {
		journey{t, s.tg, chat}.welcome()
	}
	s.text("+447700900555", "Hi", "1 English")
	s.text("+447700900555", "1", "Privacy")
	s.text("+447700900555", "1", "What would you like to do?")

	// The first admin, made on the command line.
	if out, code := s.cli("root-password-123\n", "staff", "add", "root", "--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("lifeline staff add: %d\n%s", code, out)
	}
	b := webtest.Start(t)
	if st := signIn(b, s.url, "root", "root-password-123"); st != http.StatusOK {
		t.Fatalf("admin sign-in: %d", st)
	}
	if h := b.Text("h1"); h != "Overview" {
		t.Fatalf("after sign-in: %q", h)
	}

	// The admin creates a staff account and reads its one-time link.
	b.Do("open accounts", chromedp.Navigate(s.url+"/console/accounts"), chromedp.SendKeys(chromedp.ID("name"), "amina"),
		chromedp.SetValue(chromedp.ID("role"), "staff"))
	b.Submit(`form[action="/console/accounts"] button`)
	link := b.Value("#link")
	if !strings.HasPrefix(link, s.url+"/console/welcome?t=") {
		t.Fatalf("sign-in link %q", link)
	}
	b.Submit(".signout button")

	// Amina sets her password from the link and is signed in.
	b.Do("open the link", chromedp.Navigate(link),
		chromedp.SendKeys(chromedp.ID("password"), "amina-password-123"), chromedp.SendKeys(chromedp.ID("again"), "amina-password-123"))
	b.Submit(`form button[type=submit]`)
	if who := b.Text(".who"); !strings.Contains(who, "amina") {
		t.Fatalf("after the link, signed in as %q", who)
	}

	// The composer: English and Spanish, live counts.
	en := "Lifeline reminder: your rights at work do not end when a job ends. Write MENU to read them."
	es := "Recordatorio de Lifeline: sus derechos en el trabajo no terminan con el empleo. Escriba MENU."
	b.Do("write a broadcast", chromedp.Navigate(s.url+"/console/broadcasts"),
		chromedp.SendKeys(chromedp.ID("text-en"), en), chromedp.SendKeys(chromedp.ID("text-es"), es))
	b.WaitTrue("the live counts", `document.getElementById("count-en").textContent.includes("1 SMS") &&
		document.getElementById("count-es").textContent.includes("GSM-7") &&
		document.getElementById("reach").textContent.includes("It will reach 6 people")`, 10*time.Second)
	if c := b.Text("#count-en"); !strings.Contains(c, strconv.Itoa(len(en))+" characters · GSM-7 · 1 SMS") {
		t.Errorf("English count %q", c)
	}
	// Sending with languages missing asks for the default to go to the rest.
	if st := b.Submit(`button[value=send]`); st != http.StatusBadRequest {
		t.Errorf("send with languages missing: %d, want 400", st)
	}
	if e := b.Text(".error"); !strings.Contains(e, "Some languages have no text") {
		t.Errorf("missing languages message %q", e)
	}
	b.Do("tick send-the-rest", chromedp.Click(chromedp.CSS(`input[name=rest]`)))
	if st := b.Submit(`button[value=send]`); st != http.StatusOK {
		t.Fatalf("send: %d", st)
	}
	b.WaitTrue("the progress bar at 100 %", `(() => { const r = document.querySelector("tr.bc");
		return r && r.querySelector("progress").value === 100 && r.getAttribute("data-status") === "done"; })()`, 20*time.Second)
	b.Shot("broadcasts") // for the README and the next person
	if nums := b.Text("tr.bc .nums"); nums != "6 sent · 0 skipped · 0 failed · of 6" {
		t.Errorf("progress figures %q", nums)
	}
	for _, chat := range chats {
		if n := occurrences(s.tg.BotSaid(chat), en); n != 1 {
			t.Errorf("chat %d got the broadcast %d times", chat, n)
		}
	}
	if n := occurrences(s.twilio.Bodies(), en); n != 1 {
		t.Errorf("the SMS person got the broadcast %d times", n)
	}

	// A form on another origin posting to the console is refused.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/console/broadcasts">
<input type="hidden" name="text.en" value="forged"><input type="hidden" name="rest" value="1">
<button id="go" type="submit" name="do" value="send">go</button></form>`, s.url)
	}))
	defer evil.Close()
	b.Do("open another site", chromedp.Navigate(evil.URL))
	if st := b.Submit("#go"); st != http.StatusForbidden {
		t.Errorf("cross-origin post: %d, want 403", st)
	}
	for _, chat := range chats {
		if occurrences(s.tg.BotSaid(chat), "forged") > 0 {
			t.Errorf("the forged broadcast reached chat %d", chat)
		}
	}

	// A coach cannot open the broadcasts.
	if out, code := s.cli("cora-password-123\n", "staff", "add", "cora", "--role", "coach", "--password-stdin"); code != 0 {
		t.Fatalf("lifeline staff add cora: %d\n%s", code, out)
	}
	b.Open(s.url + "/console/")
	b.Submit(".signout button")
	signIn(b, s.url, "cora", "cora-password-123")
	if st := b.Open(s.url + "/console/broadcasts"); st != http.StatusForbidden {
		t.Errorf("a coach on the broadcasts page: %d, want 403", st)
	}
	if nav := b.Text("nav"); strings.Contains(nav, "Broadcasts") {
		t.Errorf("a coach's navigation offers the broadcasts: %q", nav)
	}
	b.Submit(".signout button")

	// Five wrong passwords lock Amina's account; the right one then fails.
	for i := range 5 {
		if st := signIn(b, s.url, "amina", fmt.Sprintf("wrong-guess-%d", i)); st != http.StatusUnauthorized {
			t.Errorf("wrong password %d: %d", i+1, st)
		}
	}
	if st := signIn(b, s.url, "amina", "amina-password-123"); st != http.StatusForbidden {
		t.Errorf("the right password on a locked account: %d, want 403", st)
	}
	if msg := b.Text(".error"); !strings.Contains(msg, "locked") {
		t.Errorf("locked account message %q", msg)
	}
	if out, _ := s.cli("", "staff", "list"); !strings.Contains(out, "amina") || !strings.Contains(out, "locked") {
		t.Errorf("lifeline staff list does not show the lock:\n%s", out)
	}

	// The overview shows what `lifeline stats` counts: six people agreed
	// to the privacy notice; by channel both cells are hidden (one on SMS is
	// fewer than 5, and Telegram's 5 would reveal it from the total).
	signIn(b, s.url, "root", "root-password-123")
	out, code := s.cli("", "stats", "--by", "channel", "--json")
	if code != 0 {
		t.Fatalf("lifeline stats: %d\n%s", code, out)
	}
	var table checkin.Table
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &table); err != nil {
		t.Fatalf("lifeline stats --json: %v\n%s", err, out)
	}
	want := map[string]string{}
	for _, sec := range table.Answers {
		if sec.Topic != "onboarded" {
			continue
		}
		for _, row := range sec.Rows {
			group := row.Group["channel"]
			if row.Total {
				group = "All"
			}
			for _, col := range sec.Columns {
				want[group+"/"+col] = row.Figures[col].String()
			}
		}
	}
	if want["All/yes"] != "6" || want["telegram/yes"] != "<5" || want["sms/yes"] != "<5" {
		t.Fatalf("lifeline stats counts %v, want 6 agreed, by channel hidden", want)
	}
	b.Do("open the overview", chromedp.Navigate(s.url+"/console/"))
	got := webtest.Eval[map[string]string](b, `(() => {
		const out = {};
		for (const sec of document.querySelectorAll("section.figures")) {
			if (!sec.querySelector("h2").textContent.includes("privacy notice")) continue;
			const cols = [...sec.querySelectorAll("thead th")].slice(1).map(th => th.textContent);
			for (const tr of sec.querySelectorAll("tbody tr")) {
				const g = tr.querySelector("th").textContent;
				[...tr.querySelectorAll("td")].forEach((td, i) => { out[g + "/" + cols[i]] = td.textContent; });
			}
		}
		return out; })()`)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("overview %s = %q, lifeline stats says %q (overview: %v)", k, got[k], v, got)
		}
	}
	if svg := webtest.Eval[int](b, `document.querySelectorAll("section.figures svg").length`); svg < 3 {
		t.Errorf("%d charts on the overview", svg)
	}
	// Every page an admin can open, with no script error or CSP violation.
	for _, p := range []string{"/console/", "/console/broadcasts", "/console/reminders", "/console/jobs", "/console/content",
		"/console/content/lessons/lesson_debt?lang=ar", "/console/audit", "/console/accounts", "/console/account"} {
		if st := b.Open(s.url + p); st != http.StatusOK {
			t.Errorf("%s: %d", p, st)
		}
	}
	b.Do("let scripts run", chromedp.Sleep(500*time.Millisecond))
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
	// The audit log has each action under the account that did it.
	out, _ = s.cli("", "audit")
	for _, want := range []string{"admin:root", "account.create", "staff:amina", "broadcast.create", "account.lockout"} {
		if !strings.Contains(out, want) {
			t.Errorf("lifeline audit lacks %q:\n%s", want, out)
		}
	}
}
