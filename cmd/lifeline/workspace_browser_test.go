package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/web/webtest"
)

const (
	coachGroup    = -100777
	telegramCoach = 424242
)

// caseRow is the selector of a case's row in the queue.
func caseRow(alias string) string { return `tr.case[data-alias="` + alias + `"]` }

// newestAlias waits for a case row the page did not show before and
// returns its alias, reading the live page without reloading it.
func newestAlias(t *testing.T, b *webtest.Browser, seen map[string]bool, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		aliases := webtest.Eval[[]string](b, `[...document.querySelectorAll("tr.case")].map(r => r.getAttribute("data-alias"))`)
		for _, a := range aliases {
			if !seen[a] {
				seen[a] = true
				return a
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Shot("no-new-case")
	t.Fatalf("no new case on the queue page within %v", within)
	return ""
}

// groupClaim waits for a case's card in the coaches' Telegram group and
// returns the press of its Claim button by the Telegram coach.
func groupClaim(t *testing.T, fake *telegramtest.Server, alias string) func() {
	t.Helper()
	u := fake.ButtonUpdate(t, coachGroup, telegramCoach, "claim:"+alias)
	return func() { fake.Queue(u) }
}

// TestWorkspaceInBrowser drives the coach workspace in headless Chromium
// against `lifeline serve`, Redis and the Telegram and Twilio fakes: a
// Telegram person asks for a coach and the case appears on the open queue
// page, unreloaded, within 2 s; the coach claims it, answers, and the
// person's chat gets it; the person's answer appears in the conversation;
// the same for a person on SMS; a second coach gets 403 on the first's
// case; hand-over to the second coach; close with an outcome that the
// overview counts; a claim at once on the web and in Telegram has one
// winner.
func TestWorkspaceInBrowser(t *testing.T) {
	s := startConsoleServerEnv(t, map[string]string{
		"COACH_CHAT_ID": "-100777", "COACH_TELEGRAM_IDS": "424242", "COACH_HOURS": "Mon-Sun 00:00-23:59",
	})
	for _, a := range [][3]string{{"cora", "coach", "cora-password-123"}, {"carl", "coach", "carl-password-123"}, {"root", "admin", "root-password-123"}} {
		if out, code := s.cli(a[2]+"\n", "staff", "add", a[0], "--role", a[1], "--password-stdin"); code != 0 {
			t.Fatalf("staff add %s: %d\n%s", a[0], code, out)
		}
	}
	b := webtest.Start(t)
	signIn(b, s.url, "cora", "cora-password-123")
	if st := b.Open(s.url + "/console/cases"); st != http.StatusOK {
		t.Fatalf("the queue: %d", st)
	}
	seen := map[string]bool{}

	// A Telegram person asks for a coach; the open page shows the case.
	const chat = 7200001
	j := journey{t, s.tg, chat}
	j.welcome()
	asked := time.Now()
	j.step("a coach asked for", func() { s.tg.Type(chat, "coach") }, "A coach will write to you here soon")
	alias := newestAlias(t, b, seen, 2*time.Second+time.Since(asked))
	if took := time.Since(asked); took > 2*time.Second {
		t.Errorf("the case took %v from the person's message to the open page", took)
	} else {
		t.Logf("the case appeared %v after the person asked", took.Round(time.Millisecond))
	}
	if got := b.Text(caseRow(alias) + " td:nth-of-type(2)"); got != "asked for a coach" {
		t.Errorf("reason shown %q", got)
	}

	// Claim, answer; the person's chat gets it; their answer comes back.
	b.Submit(caseRow(alias) + " button")
	if msg := b.Text(".flash"); !strings.Contains(msg, "The case is yours") {
		t.Errorf("after claim: %q", msg)
	}
	b.Do("write a reply", chromedp.SendKeys(chromedp.ID("reply-text"), "Hello, I am Cora. How can I help?"))
	b.Submit("#send-reply")
	waitFor(t, "the reply in the person's chat", func() bool {
		return strings.Contains(strings.Join(s.tg.BotSaid(chat), "\n"), "Hello, I am Cora. How can I help?")
	})
	s.tg.Type(chat, "My employer kept my passport")
	waitFor(t, "the answer in the conversation", func() bool {
		b.Open(s.url + "/console/cases/" + alias)
		return strings.Contains(b.Text("#conversation"), "My employer kept my passport")
	})

	// The second coach: 403 on Cora's case.
	b2 := webtest.Start(t)
	signIn(b2, s.url, "carl", "carl-password-123")
	if st := b2.Open(s.url + "/console/cases/" + alias); st != http.StatusForbidden {
		t.Errorf("the second coach on the first's case: %d, want 403", st)
	}

	// An SMS person, the same way.
	b.Open(s.url + "/console/cases")
	for a := range seen {
		seen[a] = true
	}
	const phone = "+447700900777"
	s.text(phone, "Hi", "1 English")
	s.text(phone, "1", "Privacy")
	s.text(phone, "1", "What would you like to do?")
	s.text(phone, "coach", "A coach will write to you here soon")
	smsAlias := newestAlias(t, b, seen, 3*time.Second)
	b.Submit(caseRow(smsAlias) + " button")
	b.Do("write an SMS reply", chromedp.SendKeys(chromedp.ID("reply-text"), "Hello from your coach. Are you safe now?"))
	b.WaitTrue("the SMS count", `document.getElementById("reply-count").textContent.includes("GSM-7")`, 5*time.Second)
	b.Submit("#send-reply")
	waitFor(t, "the SMS reply", func() bool { return occurrences(s.twilio.Bodies(), "Are you safe now?") == 1 })
	s.send(phone, "Yes I am safe today")
	waitFor(t, "the SMS answer in the conversation", func() bool {
		b.Open(s.url + "/console/cases/" + smsAlias)
		return strings.Contains(b.Text("#conversation"), "Yes I am safe today")
	})

	// Hand the Telegram case over to Carl; the person is told.
	b.Open(s.url + "/console/cases/" + alias)
	b.Do("choose Carl", chromedp.SetValue(chromedp.ID("to"), "carl"), chromedp.SendKeys(chromedp.ID("handover-note"), "Passport kept by the employer"))
	b.Submit("#handover")
	waitFor(t, "the person told of the hand-over", func() bool {
		return strings.Contains(strings.Join(s.tg.BotSaid(chat), "\n"), "Another coach, carl")
	})
	if st := b2.Open(s.url + "/console/cases/" + alias); st != http.StatusOK {
		t.Fatalf("Carl on the handed-over case: %d", st)
	}
	if notes := b2.Text("#notes"); !strings.Contains(notes, "Passport kept by the employer") {
		t.Errorf("the hand-over note is not with the case: %q", notes)
	}
	// Carl closes it as "found a job": the overview counts it.
	b2.Do("choose the outcome", chromedp.SetValue(chromedp.ID("outcome"), "job_found"))
	b2.Submit("#close")
	if msg := b2.Text(".flash"); !strings.Contains(msg, "closed") {
		t.Errorf("after close: %q", msg)
	}
	b3 := webtest.Start(t)
	signIn(b3, s.url, "root", "root-password-123")
	b3.Open(s.url + "/console/")
	overview := webtest.Eval[string](b3, `[...document.querySelectorAll("section.figures")].map(s => s.textContent).join("\n")`)
	if !strings.Contains(overview, "Cases closed, by outcome") || !strings.Contains(overview, "job_found") {
		t.Errorf("the overview does not count the outcome:\n%s", overview)
	}

	// A new case, claimed at once in Telegram and on the web: one winner.
	const chat2 = 7200002
	j2 := journey{t, s.tg, chat2}
	j2.welcome()
	j2.step("a coach asked for", func() { s.tg.Type(chat2, "coach") }, "A coach will write to you here soon")
	b.Open(s.url + "/console/cases")
	race := newestAlias(t, b, seen, 3*time.Second)
	// The case's own page keeps its Claim button whoever claims first.
	b.Open(s.url + "/console/cases/" + race)
	press := groupClaim(t, s.tg, race)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); press() }()
	webStatus := b.Submit("#claim")
	wg.Wait()
	claimsOf := func() []string {
		out, _ := s.cli("", "audit")
		var claims []string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[2] == "case.claim" && f[3] == race {
				claims = append(claims, f[1])
			}
		}
		return claims
	}
	waitFor(t, "the race decided", func() bool { return len(claimsOf()) > 0 })
	time.Sleep(time.Second) // a second claim, were there one, would be written by now
	claims := claimsOf()
	here := webtest.Eval[string](b, `location.href`)
	t.Logf("claim race won by %v", claims)
	switch {
	case len(claims) != 1:
		t.Errorf("claims of %s: %v, want exactly one", race, claims)
	case claims[0] == "coach:cora" && !strings.Contains(here, "msg=claimed"):
		t.Errorf("the web won (%v) but the page is %s (status %d)", claims, here, webStatus)
	case claims[0] != "coach:cora" && !strings.Contains(here, "msg=taken"):
		t.Errorf("Telegram won (%v) but the page is %s (status %d)", claims, here, webStatus)
	case claims[0] == "coach:cora":
		waitFor(t, "the Telegram coach told the case is taken", func() bool {
			return strings.Contains(strings.Join(s.tg.BotSaid(telegramCoach), "\n"), race)
		})
	}
	if p := append(append(b.Problems(), b2.Problems()...), b3.Problems()...); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}
