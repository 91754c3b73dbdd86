package broadcast

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestBroadcastSurvivesRestartAnd429s: a broadcast to 300 people goes
// through a channel answering 429 to a third of the first attempts; the first process
// (runtime and broadcaster) stops a third of the way, a second one on the
// same Redis finishes. Everyone eligible gets the message exactly once, in
// their language; opted-out and unreachable people get nothing and are
// counted as skipped.
func TestBroadcastSurvivesRestartAnd429s(t *testing.T) {
	st := newStore(t)
	ch := bottest.NewChannel("test")
	// Every third person's first two attempts get "429 retry after 1ms".
	ch.FailWith(func(addr string, n int) error {
		if addr[len(addr)-1]%3 == 0 && n <= 2 {
			return &bot.SendError{Retryable: true, RetryAfter: time.Millisecond, Code: 429}
		}
		return nil
	})
	a := newProc(t, st, procOpts{chans: []bot.Channel{ch}, batch: 20, workers: 3, runService: true, claimIdle: 50 * time.Millisecond})
	a.svc.testStop = a.stopService
	langs := []string{"en", "es", "fr", ""}
	var people []person
	for i := range 300 {
		p := person{addr: fmt.Sprintf("+1555%04d", i), ch: "test", prof: map[string]string{}}
		if l := langs[i%4]; l != "" {
			p.prof["lang"] = l
		}
		switch {
		case i%50 == 7:
			p.prof["stopped"] = "1"
		case i%50 == 9:
			p.prof["unreachable"] = "1"
		}
		people = append(people, p)
	}
	addPeople(t, a, people...)

	var outcomes atomic.Int64
	a.svc.testHook = func(string, string) {
		if outcomes.Add(1) == 100 {
			go a.svc.testStop()
		}
	}
	id, err := a.svc.Create(context.Background(), Spec{Text: map[string]string{
		"en": "Hello <b>all</b> {{.hotline}}", "es": "Hola a todos", "fr": "Bonjour à tous"}})
	if err != nil {
		t.Fatal(err)
	}
	<-a.svcDone
	if got := status(t, a.svc, id); got.Status != StatusSending || got.Sent+got.Skipped >= 300 {
		t.Fatalf("the first process should stop mid-way; status %+v", got)
	}
	// The runtime delivers what the broadcaster queued before it stops:
	// stopped mid-send it may repeat one message (bot/send.go records a
	// send with the cancelled context), which is the runtime's own window.
	a.Settle()
	a.stop()

	b := newProc(t, st, procOpts{chans: []bot.Channel{ch}, batch: 20, workers: 3, runService: true, claimIdle: 50 * time.Millisecond})
	waitFor(t, "the broadcast to finish", func() bool { return status(t, b.svc, id).Status == StatusDone })
	b.Settle()

	want := map[string]string{"en": "Hello <b>all</b> {{.hotline}}", "es": "Hola a todos", "fr": "Bonjour à tous", "": "Hello <b>all</b> {{.hotline}}"}
	eligible := 0
	for i, p := range people {
		got := ch.To(p.addr)
		if p.prof["stopped"] == "1" || p.prof["unreachable"] == "1" {
			if len(got) != 0 {
				t.Errorf("%s opted out or unreachable but got %d messages", p.addr, len(got))
			}
			continue
		}
		eligible++
		if len(got) != 1 {
			t.Errorf("%s got %d messages, want exactly 1", p.addr, len(got))
			continue
		}
		if got[0].Text != want[langs[i%4]] {
			t.Errorf("%s (%q) got %q", p.addr, langs[i%4], got[0].Text)
		}
	}
	s := status(t, b.svc, id)
	if s.Sent != int64(eligible) || s.Skipped != int64(300-eligible) || s.Failed != 0 || s.Total != 300 {
		t.Errorf("status %+v; want sent %d, skipped %d, total 300", s, eligible, 300-eligible)
	}
}

func TestPauseResumeCancel(t *testing.T) {
	st := newStore(t)
	ch := bottest.NewChannel("test")
	clk := bottest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	p := newProc(t, st, procOpts{chans: []bot.Channel{ch}, clock: clk, batch: 10, workers: 1})
	ctx := context.Background()
	var people []person
	for i := range 40 {
		people = append(people, person{addr: fmt.Sprint("+2", i), ch: "test"})
	}
	addPeople(t, p, people...)

	// A broadcast for later: scheduled until its time.
	later, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "later"}, SendAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p.drive()
	if s := status(t, p.svc, later); s.Status != StatusScheduled || ch.Total() != 0 {
		t.Fatalf("before its time: %+v, %d sent", s, ch.Total())
	}
	if err := p.svc.Pause(ctx, later); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour)
	p.drive()
	if s := status(t, p.svc, later); s.Status != StatusPaused || ch.Total() != 0 {
		t.Fatalf("paused past its time: %+v, %d sent", s, ch.Total())
	}
	if err := p.svc.Cancel(ctx, later); err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Resume(ctx, later); !errors.Is(err, ErrState) {
		t.Fatalf("resume after cancel: %v, want ErrState", err)
	}
	p.drive()
	if s := status(t, p.svc, later); s.Status != StatusCancelled || ch.Total() != 0 {
		t.Fatalf("cancelled: %+v, %d sent", s, ch.Total())
	}

	// Paused mid-way: exactly the people served before the pause got it.
	id, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "now"}})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	p.svc.testHook = func(string, string) {
		if n.Add(1) == 15 {
			if err := p.svc.Pause(ctx, id); err != nil {
				t.Error(err)
			}
		}
	}
	p.drive()
	if s := status(t, p.svc, id); s.Status != StatusPaused || s.Sent != 15 || ch.Total() != 15 {
		t.Fatalf("after a pause at 15: %+v, %d delivered", s, ch.Total())
	}
	p.drive()
	if ch.Total() != 15 {
		t.Fatalf("a paused broadcast went on: %d delivered", ch.Total())
	}
	p.svc.testHook = nil
	if err := p.svc.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	p.drive()
	if s := status(t, p.svc, id); s.Status != StatusDone || s.Sent != 40 || ch.Total() != 40 {
		t.Fatalf("after resume: %+v, %d delivered", s, ch.Total())
	}
	for _, x := range people {
		if len(ch.To(x.addr)) != 1 {
			t.Errorf("%s got %d", x.addr, len(ch.To(x.addr)))
		}
	}
	if err := p.svc.Pause(ctx, id); !errors.Is(err, ErrState) {
		t.Errorf("pause when done: %v", err)
	}
	if err := p.svc.Pause(ctx, "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pause unknown: %v", err)
	}
	// A cancelled broadcast's working keys are gone; its counts stay.
	for part, want := range map[string]int64{"meta": 1, "chunks": 0, "done": 0, "later": 0, "scan": 0} {
		if n, _ := st.Redis().Exists(ctx, st.Key("{bc:"+id+"}", part)).Result(); n != want {
			t.Errorf("after done, %s exists %d times, want %d", part, n, want)
		}
	}
}

func TestAudienceFilters(t *testing.T) {
	st := newStore(t)
	tg, sms := bottest.NewChannel("telegram"), bottest.NewChannel("sms")
	p := newProc(t, st, procOpts{chans: []bot.Channel{tg, sms}})
	addPeople(t, p,
		person{addr: "en-tg", ch: "telegram", prof: map[string]string{"lang": "en"}},
		person{addr: "es-tg", ch: "telegram", prof: map[string]string{"lang": "es", "tag.north": "1"}},
		person{addr: "es-sms", ch: "sms", prof: map[string]string{"lang": "es"}, subs: []string{"jobs"}},
		person{addr: "none-sms", ch: "sms"},
	)
	ctx := context.Background()
	cases := []struct {
		aud  Audience
		want []string
	}{
		{Audience{Languages: []string{"es"}}, []string{"es-tg", "es-sms"}},
		{Audience{Languages: []string{"en"}}, []string{"en-tg", "none-sms"}}, // no language: the default
		{Audience{Channels: []string{"sms"}}, []string{"es-sms", "none-sms"}},
		{Audience{Tags: []string{"north", "jobs"}}, []string{"es-tg", "es-sms"}},
		{Audience{Languages: []string{"es"}, Channels: []string{"telegram"}}, []string{"es-tg"}},
	}
	for i, c := range cases {
		text := fmt.Sprint("case ", i)
		// The console's live count says, before sending, how many the
		// broadcast will reach.
		reach, err := p.svc.Reach(ctx, c.aud)
		if err != nil || reach.People != len(c.want) || reach.Unreachable != 0 {
			t.Errorf("audience %+v: reach %+v (%v), want %d", c.aud, reach, err, len(c.want))
		}
		id, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": text}, Audience: c.aud})
		if err != nil {
			t.Fatal(err)
		}
		p.drive()
		var got []string
		for _, addr := range []string{"en-tg", "es-tg", "es-sms", "none-sms"} {
			for _, m := range append(tg.To(addr), sms.To(addr)...) {
				if m.Text == text {
					got = append(got, addr)
				}
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("audience %+v reached %v, want %v", c.aud, got, c.want)
		}
		if s := status(t, p.svc, id); s.Status != StatusDone || s.Total != int64(len(c.want)) {
			t.Errorf("audience %+v: status %+v", c.aud, s)
		}
	}
	addPeople(t, p, person{addr: "stopped", ch: "sms", prof: map[string]string{"lang": "es", "stopped": "1"}})
	if r, err := p.svc.Reach(ctx, Audience{Languages: []string{"es"}}); err != nil || r.People != 2 || r.Unreachable != 1 || r.ByLanguage["es"] != 2 {
		t.Errorf("reach with a stopped person: %+v (%v)", r, err)
	}
	if _, err := p.svc.Create(ctx, Spec{Text: map[string]string{"es": "sin inglés"}}); err == nil {
		t.Error("a text without the default language was accepted")
	}
	if _, err := p.svc.Create(ctx, Spec{MessageID: "no.such"}); err == nil {
		t.Error("an unknown message id was accepted")
	}
	if _, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "x"}, MessageID: "reminder.1"}); err == nil {
		t.Error("text and message id together were accepted")
	}
}

// TestQuietHours: at 22:00 UTC with quiet hours 21:00-08:00, a person in
// New York (17:00) gets the message at once, a person in Tokyo (07:00) at
// 08:00 Tokyo time, a person in UTC at 08:00 UTC; urgent ignores them.
func TestQuietHours(t *testing.T) {
	st := newStore(t)
	ch := bottest.NewChannel("test")
	clk := bottest.NewClock(time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC))
	q, _ := bot.ParseQuietHours("21:00-08:00")
	p := newProc(t, st, procOpts{chans: []bot.Channel{ch}, clock: clk, quiet: q})
	addPeople(t, p,
		person{addr: "ny", ch: "test", prof: map[string]string{"tz": "America/New_York"}},
		person{addr: "tokyo", ch: "test", prof: map[string]string{"tz": "Asia/Tokyo"}},
		person{addr: "utc", ch: "test"},
	)
	ctx := context.Background()
	id, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "quiet"}})
	if err != nil {
		t.Fatal(err)
	}
	got := func() string {
		var out []string
		for _, a := range []string{"ny", "tokyo", "utc"} {
			out = append(out, fmt.Sprint(a, "=", len(ch.To(a))))
		}
		return strings.Join(out, " ")
	}
	p.drive()
	if g := got(); g != "ny=1 tokyo=0 utc=0" {
		t.Fatalf("at 22:00 UTC: %s", g)
	}
	if s := status(t, p.svc, id); s.Status != StatusSending || s.Waiting != 2 || s.Sent != 1 || s.Total != 3 {
		t.Fatalf("status %+v", s)
	}
	clk.Set(time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)) // 08:00 in Tokyo
	p.drive()
	if g := got(); g != "ny=1 tokyo=1 utc=0" {
		t.Fatalf("at 23:00 UTC: %s", g)
	}
	clk.Set(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC))
	p.drive()
	if g := got(); g != "ny=1 tokyo=1 utc=1" {
		t.Fatalf("at 08:00 UTC: %s", g)
	}
	if s := status(t, p.svc, id); s.Status != StatusDone || s.Sent != 3 || s.Waiting != 0 {
		t.Fatalf("status %+v", s)
	}

	clk.Set(time.Date(2026, 12, 2, 22, 0, 0, 0, time.UTC))
	if _, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "urgent"}, Urgent: true}); err != nil {
		t.Fatal(err)
	}
	p.drive()
	if g := got(); g != "ny=2 tokyo=2 utc=2" {
		t.Fatalf("urgent at night: %s", g)
	}
}

func TestRemindersRotateAndOptOut(t *testing.T) {
	st := newStore(t)
	ch := bottest.NewChannel("test")
	clk := bottest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	p := newProc(t, st, procOpts{chans: []bot.Channel{ch}, clock: clk})
	addPeople(t, p,
		person{addr: "a", ch: "test", prof: map[string]string{"lang": "es"}},
		person{addr: "b", ch: "test", subs: []string{"reminders_off"}},
		person{addr: "c", ch: "test", prof: map[string]string{"stopped": "1"}},
	)
	ctx := context.Background()
	if _, err := p.svc.StartReminders(ctx, "fortnightly-ish", Audience{}, time.Time{}); err == nil {
		t.Fatal("a bad interval was accepted")
	}
	rem, err := p.svc.StartReminders(ctx, "monthly", Audience{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !rem.On || rem.Count < 8 {
		t.Fatalf("reminders %+v", rem)
	}
	p.drive()
	cat := p.rt.Content().Catalog
	if got := joined(ch.To("a")); !strings.Contains(got, cat.Raw("es", "reminder.1")) || !strings.Contains(got, cat.Raw("es", "reminders.footer")) {
		t.Fatalf("first round in Spanish: %q", got)
	}
	if n := len(ch.To("b")) + len(ch.To("c")); n != 0 {
		t.Fatalf("opted-out people got %d reminders", n)
	}
	if s := status(t, p.svc, "rem-1"); s.Sent != 1 || s.Skipped != 2 {
		t.Fatalf("round 1: %+v", s)
	}
	p.drive() // not due again yet
	clk.Set(time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC))
	p.drive()
	if got := ch.To("a"); len(got) != 2 || !strings.Contains(got[1].Text, cat.Raw("es", "reminder.2")) {
		t.Fatalf("second round: %q", joined(got))
	}
	if err := p.svc.StopReminders(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
	p.drive()
	if len(ch.To("a")) != 2 {
		t.Fatal("reminders went on after they were switched off")
	}
}

// TestReminderOptOutInChat: Settings > Rights reminders > No reminders
// keeps the person in Lifeline but out of the reminders.
func TestReminderOptOutInChat(t *testing.T) {
	st := newStore(t)
	ch := bottest.NewChannel("test")
	p := newProc(t, st, procOpts{chans: []bot.Channel{ch}})
	p.Say("+9", "hi", "1", "1", "menu", "settings")
	out := ch.To("+9")
	last := out[len(out)-1]
	n := 0
	for i, o := range last.Options {
		if strings.Contains(o.Label, "reminders") {
			n = i + 1
		}
	}
	if n == 0 {
		t.Fatalf("no reminders in settings: %+v", last)
	}
	p.Say("+9", fmt.Sprint(n), "2")
	prof, err := st.Profile(context.Background(), p.rt.PersonID("test", "+9"))
	if err != nil {
		t.Fatal(err)
	}
	if prof["sub.reminders_off"] != "1" || prof["stopped"] == "1" {
		t.Fatalf("profile after opting out of reminders: %v", prof)
	}
	if !strings.Contains(joined(ch.To("+9")), "No more reminders") {
		t.Fatalf("no confirmation: %s", joined(ch.To("+9")))
	}
}

func TestEmptyAndMissingPeople(t *testing.T) {
	st := newStore(t)
	ch := bottest.NewChannel("test")
	p := newProc(t, st, procOpts{chans: []bot.Channel{ch}})
	ctx := context.Background()
	// An id in the people set whose profile is gone (deleted meanwhile).
	if err := st.IndexPeople(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	id, err := p.svc.Create(ctx, Spec{MessageID: "reminder.1"})
	if err != nil {
		t.Fatal(err)
	}
	p.drive()
	if s := status(t, p.svc, id); s.Status != StatusDone || s.Skipped != 1 || s.Sent != 0 {
		t.Fatalf("status %+v", s)
	}
}

// TestMessagesInEveryShippedLanguage: every id rendered from Go, and every
// reminder, exists in en, es and fr with the same variables.
func TestMessagesInEveryShippedLanguage(t *testing.T) {
	c := bottest.Content(t)
	ids := append([]string(nil), MessageIDs...)
	for i := 1; c.Catalog.Raw("en", fmt.Sprint("reminder.", i)) != ""; i++ {
		ids = append(ids, fmt.Sprint("reminder.", i))
	}
	if len(ids) < len(MessageIDs)+8 {
		t.Fatalf("want at least 8 reminders, have %v", ids)
	}
	for _, lang := range []string{"en", "es", "fr"} {
		for _, id := range ids {
			if c.Catalog.Raw(lang, id) == "" {
				t.Errorf("%s: %s missing", lang, id)
			}
			if a, b := c.Catalog.VarsIn("en", id), c.Catalog.VarsIn(lang, id); strings.Join(a, ",") != strings.Join(b, ",") {
				t.Errorf("%s: %s uses %v, English %v", lang, id, b, a)
			}
			if first, _, _ := strings.Cut(c.Catalog.Raw(lang, id), "\n"); strings.Contains(strings.ToLower(first), "forced") {
				t.Errorf("%s: %s has a first line that is not neutral", lang, id)
			}
		}
	}
}
