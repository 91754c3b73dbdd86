package checkin

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestUnreachableSkipped: while a person cannot be reached (they blocked
// the bot) their check-ins and reminders are not sent, nothing counts as
// missed, each skipped check-in is counted in the figures, and the
// schedule moves on, so check-ins come again once they are reachable.
func TestUnreachableSkipped(t *testing.T) {
	st := bottest.NewStore(t)
	e := newEnv(t, st, Config{Cadence: cadence(t, daily)})
	ctx := context.Background()
	loc := mustLoc(t, "Europe/London")
	start := time.Date(2026, 5, 4, 12, 0, 0, 0, loc)
	e.clk.Set(start)
	p := e.person("away", map[string]string{fTZ: "Europe/London", fTime: "morning"})
	set := func(v string) {
		if err := st.SetProfile(ctx, p, map[string]string{bot.FieldUnreachable: v}); err != nil {
			t.Fatal(err)
		}
	}

	// Day 1: sent. It stays unanswered; the person blocks the bot before
	// the reminder is due.
	e.run(start.Add(22*time.Hour), 10*time.Minute) // 10:00 next day
	if n := len(e.firesOf(FlowCheckin)); n != 1 {
		t.Fatalf("%d check-ins on day 1, want 1", n)
	}
	set("1")
	e.run(start.Add(4*24*time.Hour), 10*time.Minute)
	if n := len(e.firesOf(FlowCheckin)); n != 1 {
		t.Errorf("%d check-ins sent while unreachable, want none after the first", n-1)
	}
	if n := len(e.firesOf(FlowReminder)); n != 0 {
		t.Errorf("%d reminders sent while unreachable", n)
	}
	prof := e.profile(p)
	if prof[fMisses] != "1" || prof[fDue] == "" {
		t.Errorf("while unreachable: misses %q (want only the unanswered one sent), next due %q", prof[fMisses], prof[fDue])
	}
	tab, err := e.s.Stats(ctx, start, e.clk.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Rows[len(tab.Rows)-1].Figures["not_sent_unreachable"]; !ok || !slices.Contains(tab.Columns, "not_sent_unreachable") {
		t.Errorf("figures have no not_sent_unreachable column: %v", tab.Columns)
	}
	if weekOf(start) != weekOf(e.clk.Now()) {
		t.Fatal("the test's days must fall in one week")
	}
	weeks, err := st.CheckinFigures(ctx, []string{weekOf(start)})
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, h := range weeks {
		for f, v := range h {
			if strings.HasPrefix(f, mUnreachable+"|") {
				skipped += atoi(v)
			}
		}
	}
	if skipped != 3 {
		t.Errorf("%d skipped check-ins counted, want 3 (days 2 to 4)", skipped)
	}

	// Unblocked: the next one goes out.
	set("")
	e.run(start.Add(5*24*time.Hour), 10*time.Minute)
	if n := len(e.firesOf(FlowCheckin)); n != 2 {
		t.Errorf("%d check-ins after unblocking, want 1 more", n-1)
	}
}
