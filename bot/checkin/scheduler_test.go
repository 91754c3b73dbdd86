package checkin

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// fired is one trigger the scheduler made.
type fired struct {
	person, flow, id string
	at               time.Time
}

// env is a scheduler on real Redis whose triggers are recorded (and
// escalations too) instead of reaching a runtime.
type env struct {
	t     *testing.T
	st    *store.Store
	rt    *runner.Runtime
	s     *Scheduler
	clk   *bottest.Clock
	mu    sync.Mutex
	fires []fired
	cases []string
}

func newEnv(t *testing.T, st *store.Store, cfg Config) *env {
	t.Helper()
	if st == nil {
		st = bottest.NewStore(t)
	}
	e := &env{t: t, st: st, clk: bottest.NewClock(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC))}
	e.rt = bottest.Runtime(t, runner.Config{Store: st})
	cfg.Runtime = e.rt
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = e.clk.Now
	cfg.Escalate = func(_ context.Context, person, reason, priority string) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.cases = append(e.cases, person+" "+reason+" "+priority)
	}
	e.s = New(cfg)
	e.s.trigger = func(_ context.Context, person, flow, id string) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.fires = append(e.fires, fired{person, flow, id, e.clk.Now()})
		return nil
	}
	return e
}

// person makes a known person (as the runtime would after onboarding)
// with extra profile fields, and subscribes them now.
func (e *env) person(id string, fields map[string]string) string {
	e.t.Helper()
	p := map[string]string{"ch": "test", "lang": "en", "sub.checkins": "1", "first": strconv.FormatInt(e.clk.Now().UnixMilli(), 10)}
	for k, v := range fields {
		p[k] = v
	}
	if err := e.st.SetProfile(context.Background(), id, p); err != nil {
		e.t.Fatal(err)
	}
	e.s.Effect(context.Background(), id, p, flows.Effect{Kind: flows.EffectSubscribe, Topic: Topic})
	return id
}

func (e *env) profile(id string) map[string]string {
	e.t.Helper()
	p, err := e.st.Profile(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) due(id string) time.Time {
	e.t.Helper()
	t, ok := fromMS(e.profile(id)[fDue])
	if !ok {
		e.t.Fatalf("%s has no check-in due", id)
	}
	return t
}

// run moves the clock to until in steps, firing what is due at each.
func (e *env) run(until time.Time, step time.Duration) {
	e.t.Helper()
	for now := e.clk.Now(); !now.After(until); now = now.Add(step) {
		e.clk.Set(now)
		if _, err := e.s.FireDue(context.Background(), now); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) firesOf(flow string) []fired {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []fired
	for _, f := range e.fires {
		if f.flow == flow {
			out = append(out, f)
		}
	}
	return out
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func cadence(t *testing.T, raw string) *Cadence {
	t.Helper()
	c, err := ParseCadence([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// daily fires every day at 01:30 or 02:30 local: the hours that repeat or
// vanish when clocks change.
const daily = `
phases: [{every: 1d, until: 8w}]
long_follow_up: [{every: 1d, until: 8w}]
times: {early: "01:30", late: "02:30", morning: "10:00"}
default_time: morning
reminder_after: 2h
missed_after: 12h
welfare_after_misses: 2
silent_after: 8w
`

// TestDaylightSavingNeitherDoublesNorSkips runs a clock in 10-minute steps
// across the spring and autumn changes in New York and London, with
// check-ins at the hour that vanishes or repeats: each local day gets
// exactly one check-in, at the local time asked for (or just after a gap).
func TestDaylightSavingNeitherDoublesNorSkips(t *testing.T) {
	tests := []struct {
		zone, pref string
		from, to   string
		wantClock  map[string]string // local date → local time when not the asked one
	}{
		{"America/New_York", "late", "2026-03-05", "2026-03-12", map[string]string{"2026-03-08": "03:30"}},
		{"America/New_York", "early", "2026-10-28", "2026-11-04", nil},
		{"Europe/London", "early", "2026-03-25", "2026-04-01", map[string]string{"2026-03-29": "02:30"}},
		{"Europe/London", "early", "2026-10-21", "2026-10-28", nil},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.from, func(t *testing.T) {
			e := newEnv(t, nil, Config{Cadence: cadence(t, daily)})
			loc := mustLoc(t, tt.zone)
			from := date(tt.from)
			e.clk.Set(time.Date(from.Year(), from.Month(), from.Day(), 12, 0, 0, 0, loc))
			p := e.person("dst", map[string]string{fTZ: tt.zone, fTime: tt.pref})
			end := date(tt.to)
			e.run(time.Date(end.Year(), end.Month(), end.Day(), 12, 0, 0, 0, loc), 10*time.Minute)
			perDay := map[string]int{}
			want := "01:30"
			if tt.pref == "late" {
				want = "02:30"
			}
			for _, f := range e.firesOf(FlowCheckin) {
				if f.person != p {
					continue
				}
				l := f.at.In(loc)
				d := l.Format(time.DateOnly)
				perDay[d]++
				w := want
				if x, ok := tt.wantClock[d]; ok {
					w = x
				}
				// Fired at the first 10-minute step at or after the due time.
				due := time.Date(l.Year(), l.Month(), l.Day(), atoi(w[:2]), atoi(w[3:]), 0, 0, loc)
				if l.Before(due) || l.Sub(due) >= 10*time.Minute {
					t.Errorf("%s: fired at %s, want %s local", d, l.Format("15:04 MST"), w)
				}
			}
			for d := from.AddDate(0, 0, 1); !d.After(end); d = d.AddDate(0, 0, 1) {
				if n := perDay[d.Format(time.DateOnly)]; n != 1 {
					t.Errorf("%s: %d check-ins, want 1", d.Format(time.DateOnly), n)
				}
			}
		})
	}
}

// TestWeeklyAcrossDaylightSaving: weekly check-ins keep 10:00 local, so
// the instants are 167 or 169 hours apart across a change.
func TestWeeklyAcrossDaylightSaving(t *testing.T) {
	e := newEnv(t, nil, Config{})
	loc := mustLoc(t, "Europe/London")
	e.clk.Set(time.Date(2026, 3, 18, 15, 0, 0, 0, loc))
	p := e.person("weekly", map[string]string{fTZ: "Europe/London"})
	e.run(time.Date(2026, 4, 10, 12, 0, 0, 0, loc), 30*time.Minute)
	var got []string
	for _, f := range e.firesOf(FlowCheckin) {
		if f.person == p {
			got = append(got, f.at.In(loc).Format("2006-01-02 15:04"))
		}
	}
	want := []string{"2026-03-25 10:00", "2026-04-01 10:00", "2026-04-08 10:00"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("check-ins at %v, want %v", got, want)
	}
}

// TestQuietHoursEastAndWest: a check-in asked for at 22:30 local waits for
// the end of quiet hours (21:00-08:00) in each person's own zone.
func TestQuietHoursEastAndWest(t *testing.T) {
	q, err := bot.ParseQuietHours("21:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	raw := `
phases: [{every: 1w, until: 12w}]
long_follow_up: [{every: 1w, until: 12w}]
times: {night: "22:30", morning: "10:00"}
default_time: morning
reminder_after: 1d
missed_after: 3d
welfare_after_misses: 2
silent_after: 8w
`
	e := newEnv(t, nil, Config{Quiet: q, Cadence: cadence(t, raw)})
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	e.clk.Set(start)
	for _, zone := range []string{"Asia/Tokyo", "America/Los_Angeles"} {
		loc := mustLoc(t, zone)
		p := e.person(zone, map[string]string{fTZ: zone, fTime: "night"})
		due := e.due(p).In(loc)
		if due.Hour() != 8 || due.Minute() != 0 {
			t.Errorf("%s: due at %s local, want 08:00", zone, due.Format("2006-01-02 15:04"))
		}
		asked := day(start, loc).AddDate(0, 0, 7)
		if want := time.Date(asked.Year(), asked.Month(), asked.Day()+1, 8, 0, 0, 0, loc); !due.Equal(want) {
			t.Errorf("%s: due %s, want %s (the morning after 22:30 on the 7th day)", zone, due, want)
		}
	}
	// Stepping through the week fires nothing inside quiet hours.
	e.run(start.AddDate(0, 0, 10), 15*time.Minute)
	for _, f := range e.firesOf(FlowCheckin) {
		loc := mustLoc(t, f.person)
		if l := f.at.In(loc); l.Hour() >= 21 || l.Hour() < 8 {
			t.Errorf("%s: fired at %s local, inside quiet hours", f.person, l.Format("15:04"))
		}
	}
	if n := len(e.firesOf(FlowCheckin)); n != 2 {
		t.Errorf("%d check-ins, want 2", n)
	}
}

// TestTwoProcessesFireOnce: two schedulers (two processes) on one real
// Redis, each with several goroutines, fire 60 people's due check-ins
// through the real runtime's Trigger: each person's inbox gets one.
func TestTwoProcessesFireOnce(t *testing.T) {
	st := bottest.NewStore(t)
	a := newEnv(t, st, Config{})
	b := newEnv(t, st, Config{})
	a.s.trigger, b.s.trigger = a.rt.Trigger, b.rt.Trigger
	var people []string
	for i := range 60 {
		people = append(people, a.person(fmt.Sprintf("p%02d", i), nil))
	}
	due := a.due(people[0])
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, e := range []*env{a, b, a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := e.s.FireDue(context.Background(), due.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 60 {
		t.Errorf("%d items fired in all, want 60", total)
	}
	ctx := context.Background()
	for _, p := range people {
		inbox := a.st.PersonKeyNames(p)[2]
		if n, err := st.Redis().LLen(ctx, inbox).Result(); err != nil || n != 1 {
			t.Errorf("%s: %d triggers in the inbox (%v), want 1", p, n, err)
		}
	}
	tab, err := a.s.Stats(ctx, due.AddDate(0, 0, -7), due.AddDate(0, 0, 7), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Rows[0].Figures["sent"].Value; got != 60 {
		t.Errorf("sent counted %v, want 60", got)
	}
	// Firing again (a restart) finds nothing more to do now.
	if n, _ := b.s.FireDue(ctx, due.Add(2*time.Minute)); n != 0 {
		t.Errorf("a second round fired %d items", n)
	}
}

// TestCrashedClaimIsRetriedOnce: an item claimed by a process that died is
// taken again after the lease, and still counted once.
func TestCrashedClaimIsRetriedOnce(t *testing.T) {
	e := newEnv(t, nil, Config{})
	st := e.st
	p := e.person("crash", nil)
	due := e.due(p)
	ctx := context.Background()
	// The "dead" process claims the item and never finishes.
	res, err := st.ClaimCheckins(ctx, due, due.Add(claimLease), 10)
	if err != nil || len(res) != 1 {
		t.Fatalf("claim: %v, %v", res, err)
	}
	if n, _ := e.s.FireDue(ctx, due.Add(time.Minute)); n != 0 {
		t.Fatalf("fired %d items while the lease holds", n)
	}
	if n, _ := e.s.FireDue(ctx, due.Add(claimLease+time.Minute)); n != 1 {
		t.Fatalf("fired %d items after the lease, want 1", n)
	}
	if n, _ := e.s.FireDue(ctx, due.Add(claimLease+2*time.Minute)); n != 0 {
		t.Fatalf("fired %d more", n)
	}
	if got := len(e.firesOf(FlowCheckin)); got != 1 {
		t.Fatalf("%d triggers, want 1", got)
	}
}

// TestMissedCheckinsOpenAWelfareCase: an unanswered check-in gets one
// reminder a day later; two missed in a row open a low-priority case.
func TestMissedCheckinsOpenAWelfareCase(t *testing.T) {
	e := newEnv(t, nil, Config{})
	p := e.person("silent", nil)
	first := e.due(p)
	e.run(first.AddDate(0, 0, 6), time.Hour)
	if n := len(e.firesOf(FlowReminder)); n != 1 {
		t.Fatalf("%d reminders after the first check-in, want 1", n)
	}
	if r := e.firesOf(FlowReminder)[0].at.Sub(first); r < 24*time.Hour || r > 25*time.Hour {
		t.Errorf("reminder %s after the check-in, want a day", r)
	}
	if len(e.cases) != 0 {
		t.Fatalf("a case after one miss: %v", e.cases)
	}
	e.run(first.AddDate(0, 0, 11), time.Hour)
	if n := len(e.firesOf(FlowCheckin)); n != 2 {
		t.Fatalf("%d check-ins, want 2", n)
	}
	if fmt.Sprint(e.cases) != "[silent checkin_missed low]" {
		t.Fatalf("cases %v, want one low-priority welfare check", e.cases)
	}
	// An answer resets the count.
	e.s.Effect(context.Background(), p, nil, flows.Effect{Kind: flows.EffectRecord, Topic: "checkin.mood", Value: "4"})
	if m := e.profile(p)[fMisses]; m != "" {
		t.Errorf("misses %q after an answer, want none", m)
	}
}

// TestAnsweredCheckinGetsNoReminder, and pausing, resuming and a coach's
// cadence move the schedule.
func TestPauseResumeAndCadence(t *testing.T) {
	e := newEnv(t, nil, Config{})
	st := e.st
	ctx := context.Background()
	p := e.person("p", nil)
	first := e.due(p)
	e.run(first.Add(time.Hour), time.Hour)
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectRecord, Topic: "checkin.work", Value: "looking"})
	e.run(first.AddDate(0, 0, 4), time.Hour)
	if n := len(e.firesOf(FlowReminder)); n != 0 {
		t.Fatalf("an answered check-in got %d reminders", n)
	}
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectRecord, Topic: "checkin.pause", Value: "pause"})
	if d := e.profile(p)[fDue]; d != "" {
		t.Fatalf("paused, yet a check-in is due at %s", d)
	}
	e.run(first.AddDate(0, 0, 30), 6*time.Hour)
	if n := len(e.firesOf(FlowCheckin)); n != 1 {
		t.Fatalf("%d check-ins while paused, want only the first", n)
	}
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectRecord, Topic: "checkin.pause", Value: "resume"})
	if d := e.due(p); !d.After(e.clk.Now()) || d.Sub(e.clk.Now()) > 8*24*time.Hour {
		t.Fatalf("resumed: next at %s, now %s", d, e.clk.Now())
	}
	if err := e.s.SetCadence(ctx, p, "monthly"); err != nil {
		t.Fatal(err)
	}
	if d := e.due(p).Sub(e.clk.Now()); d < 27*24*time.Hour || d > 32*24*time.Hour {
		t.Fatalf("monthly: next in %s", d)
	}
	if err := e.s.SetCadence(ctx, p, "hourly"); err == nil {
		t.Fatal("an unknown cadence was accepted")
	}
	if err := e.s.SetCadence(ctx, "nobody", "weekly"); err == nil {
		t.Fatal("a cadence for an unknown person was accepted")
	}
	// Choosing the evening moves the pending check-in to 18:00.
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectRecord, Topic: "checkin.time", Value: "evening"})
	if h := e.due(p).UTC().Hour(); h != 18 {
		t.Fatalf("evening check-in at %d:00 UTC", h)
	}
	// Leaving removes everything from the due set and counts a dropout.
	before := e.profile(p)
	e.s.Effect(ctx, p, before, flows.Effect{Kind: flows.EffectUnsubscribe, Topic: Topic})
	if n, _ := st.CheckinsPending(ctx); n != 0 {
		t.Fatalf("%d items left after opting out", n)
	}
	tab, err := e.s.Stats(ctx, first.AddDate(0, -1, 0), e.clk.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := tab.Rows[0].Figures["dropouts_opted_out"]; c.base != 1 || !c.Suppressed {
		t.Fatalf("dropout cell %+v, want 1, suppressed", c)
	}
}

// TestDeleteErasesSchedule: a person who deletes their data leaves nothing
// in the due set.
func TestDeleteErasesSchedule(t *testing.T) {
	e := newEnv(t, nil, Config{})
	st := e.st
	ctx := context.Background()
	p := e.person("gone", nil)
	e.run(e.due(p), time.Hour)
	before := e.profile(p)
	if err := st.DeletePerson(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.s.Effect(ctx, p, before, flows.Effect{Kind: flows.EffectDelete})
	if n, _ := st.CheckinsPending(ctx); n != 0 {
		t.Fatalf("%d items left after deletion", n)
	}
	// A late answer must not bring the profile back.
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectRecord, Topic: "checkin.mood", Value: "3"})
	if n, _ := st.Redis().Exists(ctx, st.ProfileKey(p)).Result(); n != 0 {
		t.Fatal("profile recreated after deletion")
	}
}

// TestBackfillAndRun: people who agreed before the scheduler existed are
// scheduled when it starts; Run stops with its context.
func TestBackfillAndRun(t *testing.T) {
	e := newEnv(t, nil, Config{Poll: time.Millisecond})
	st := e.st
	ctx := context.Background()
	if err := st.SetProfile(ctx, "old", map[string]string{"ch": "test", "sub.checkins": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexPeople(ctx, "old", "erased"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- e.s.Run(rctx) }()
	for e.profile("old")[fDue] == "" {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.Backfill(ctx); err != nil || n != 0 {
		t.Fatalf("second backfill scheduled %d (%v)", n, err)
	}
}

// TestLateFiringWaitsForQuietHoursToEnd: a check-in due at 18:00 but only
// looked at after 21:00 (the processes were down) waits until 08:00.
func TestLateFiringWaitsForQuietHoursToEnd(t *testing.T) {
	q, _ := bot.ParseQuietHours("21:00-08:00")
	e := newEnv(t, nil, Config{Quiet: q})
	loc := mustLoc(t, "America/Los_Angeles")
	e.clk.Set(time.Date(2026, 6, 1, 12, 0, 0, 0, loc))
	p := e.person("late", map[string]string{fTZ: "America/Los_Angeles", fTime: "evening"})
	due := e.due(p).In(loc)
	late := time.Date(due.Year(), due.Month(), due.Day(), 23, 0, 0, 0, loc)
	e.clk.Set(late)
	if _, err := e.s.FireDue(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if n := len(e.firesOf(FlowCheckin)); n != 0 {
		t.Fatalf("sent %d check-ins at 23:00", n)
	}
	if got, want := e.due(p).In(loc), time.Date(due.Year(), due.Month(), due.Day()+1, 8, 0, 0, 0, loc); !got.Equal(want) {
		t.Fatalf("held until %s, want %s", got, want)
	}
	e.run(late.Add(10*time.Hour), 30*time.Minute)
	if f := e.firesOf(FlowCheckin); len(f) != 1 || f[0].at.In(loc).Hour() != 8 {
		t.Fatalf("fires %v, want one at 08:00", f)
	}
}

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

// harness runs a real runtime (one "process") with a recording channel
// and a scheduler in its effect hooks; effects are recorded too.
type harness struct {
	*bottest.Harness
	s       *Scheduler
	clk     *bottest.Clock
	mu      sync.Mutex
	effects []string
	cases   []string
}

func newHarness(t *testing.T, st *store.Store) *harness {
	t.Helper()
	h := &harness{clk: bottest.NewClock(time.Now())}
	log := slog.New(slog.DiscardHandler)
	h.Harness = bottest.Start(t, bottest.WithStore(st), bottest.Workers(2), bottest.WithConfig(func(c *runner.Config) {
		c.Log = log
		c.Hooks = runner.Hooks{Effects: []bot.EffectHandler{
			func(ctx context.Context, person string, profile map[string]string, e flows.Effect) {
				h.s.Effect(ctx, person, profile, e)
				h.s.CountAnswers(ctx, person, profile, e)
			},
			func(_ context.Context, _ string, _ map[string]string, e flows.Effect) {
				h.mu.Lock()
				defer h.mu.Unlock()
				h.effects = append(h.effects, strings.Join(strings.Fields(fmt.Sprint(e.Kind, " ", e.Reason, e.Topic, " ", e.Value, " ", e.Priority)), " "))
			},
		}}
	}), bottest.Before(func(b *bottest.Harness) {
		h.s = New(Config{Runtime: b.RT, DefaultTZ: time.UTC, Clock: h.clk.Now, Log: log,
			Escalate: func(_ context.Context, person, reason, priority string) {
				h.mu.Lock()
				defer h.mu.Unlock()
				h.cases = append(h.cases, reason+" "+priority)
			}})
	}))
	return h
}

func (h *harness) recorded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.effects)
}

// TestCheckinTranscript: a person agrees to check-ins from the menu
// (answering the three optional questions), the scheduler fires the first
// check-in through the real runtime, and risky answers escalate.
func TestCheckinTranscript(t *testing.T) {
	st := bottest.NewStore(t)
	h := newHarness(t, st)
	const addr = "+4470000001"
	person := h.RT.PersonID("test", addr)
	h.Say(addr, "hi", "1", "1")                                       // language, privacy: agree
	h.Say(addr, bottest.Digit(t, flows.FlowMenu, "", "checkin"), "1") // check-ins: yes
	h.Say(addr, "1", "3", "5")                                        // a woman, 25 to 34, Philippines
	p, err := st.Profile(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	if p[fGender] != "woman" || p[fAge] != "25_34" || p[fTZ] != "Asia/Manila" || p["sub.checkins"] != "1" {
		t.Fatalf("profile after agreeing: gender %q age %q tz %q sub %q", p[fGender], p[fAge], p[fTZ], p["sub.checkins"])
	}
	due, ok := fromMS(p[fDue])
	if !ok {
		t.Fatal("no check-in scheduled")
	}
	if l := due.In(mustLoc(t, "Asia/Manila")); l.Hour() != 10 || l.Minute() != 0 {
		t.Fatalf("first check-in at %s Manila time, want 10:00", l.Format("15:04"))
	}
	before := len(h.Lines())
	h.clk.Set(due)
	if n, err := h.s.FireDue(context.Background(), due); err != nil || n != 1 {
		t.Fatalf("fired %d (%v), want 1", n, err)
	}
	h.Settle()
	h.Say(addr, "1") // very bad
	h.Say(addr, "1") // working
	h.Say(addr, "4") // threats
	lines := h.Lines()[before:]
	transcript := strings.Join(lines, "\n")
	for _, want := range []string{
		"Hi, it's time for a short check-in. How are you today? [1 – Very bad | 2 – Bad | 3 – OK | 4 – Good | 5 – Very good | Skip]",
		"Thank you for telling me. A coach will write to you soon.",
		"Are you working or training now?",
		"Is anything wrong at work?",
		"A coach will contact you very soon.",
		"Thank you. Talk soon.",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	if first := strings.TrimPrefix(lines[0], addr+": "); strings.Contains(strings.ToLower(first), "traffick") || strings.Contains(strings.ToLower(first), "forced") || strings.Contains(strings.ToLower(first), "escape") {
		t.Errorf("first line not neutral: %s", first)
	}
	effects := strings.Join(h.recorded(), "\n")
	for _, want := range []string{
		"record profile.gender woman", "record profile.age 25_34", "record profile.tz Asia/Manila", "subscribe checkins",
		"record checkin.mood 1", "escalate checkin_low_mood normal",
		"record checkin.work working", "record checkin.problem threats", "escalate checkin_threats urgent",
	} {
		if !strings.Contains(effects, want) {
			t.Errorf("effects lack %q:\n%s", want, effects)
		}
	}
	if strings.Contains(effects, "checkin.contact") {
		t.Errorf("asked about contact after a coach was already on the way:\n%s", effects)
	}
	p, _ = st.Profile(context.Background(), person)
	if p[fAnswered] == "" || p[fAnswered] != p[fPending] || p[fWork] != "working" || p[fFirstWork] == "" {
		t.Errorf("profile after answering: answered %q pending %q work %q first_work %q", p[fAnswered], p[fPending], p[fWork], p[fFirstWork])
	}
	tab, err := h.s.Stats(context.Background(), due.AddDate(0, 0, -1), due.AddDate(0, 0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	tot := tab.Rows[0].Figures
	if tot["sent"].base != 1 || tot["answered"].base != 1 || tot["active"].base != 1 || tot["first_working"].base != 1 || tot["wellbeing_mean"].Value != 1 {
		t.Errorf("figures: %+v", tot)
	}
}

// TestCheckinContactAndReminder: the reminder flow asks the same questions;
// "yes, contact me" escalates with normal priority.
func TestCheckinContactAndReminder(t *testing.T) {
	st := bottest.NewStore(t)
	h := newHarness(t, st)
	const addr = "+4470000002"
	person := h.RT.PersonID("test", addr)
	h.Say(addr, "hi", "1", "1", bottest.Digit(t, flows.FlowMenu, "", "checkin"), "1", "4", "6", "6") // no gender or age, time zone not sure
	p, _ := st.Profile(context.Background(), person)
	due, ok := fromMS(p[fDue])
	if !ok {
		t.Fatal("no check-in scheduled")
	}
	h.clk.Set(due)
	if _, err := h.s.FireDue(context.Background(), due); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	next := due.Add(25 * time.Hour)
	h.clk.Set(next)
	if _, err := h.s.FireDue(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	before := len(h.Lines())
	h.Say(addr, "4", "3", "1") // good, looking for work, yes contact me
	lines := h.Lines()
	if !strings.Contains(strings.Join(lines, "\n"), "Hi again. When you have a minute") {
		t.Errorf("no reminder:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.Contains(strings.Join(lines[before:], "\n"), "Your coach will write to you here soon.") {
		t.Errorf("no contact confirmation:\n%s", strings.Join(lines[before:], "\n"))
	}
	if effects := strings.Join(h.recorded(), "\n"); !strings.Contains(effects, "escalate checkin_contact normal") {
		t.Errorf("no contact escalation:\n%s", effects)
	}
}
