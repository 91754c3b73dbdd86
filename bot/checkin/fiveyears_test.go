package checkin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// phaseRuns describes a schedule as its runs of equal gaps: "weekly 52
// 2026-01-12..2027-01-04 | monthly 24 …". A gap of 7 days is weekly, 28 to
// 31 monthly, 89 to 92 3-monthly; anything else is named in days.
func phaseRuns(start time.Time, dates []time.Time) string {
	kind := func(days int) string {
		switch {
		case days == 7:
			return "weekly"
		case days >= 28 && days <= 31:
			return "monthly"
		case days >= 89 && days <= 92:
			return "3-monthly"
		}
		return fmt.Sprintf("gap-%dd", days)
	}
	var runs []string
	var cur string
	n := 0
	var first, last time.Time
	flush := func() {
		if n > 0 {
			runs = append(runs, fmt.Sprintf("%s %d %s..%s", cur, n, first.Format(time.DateOnly), last.Format(time.DateOnly)))
		}
	}
	prev := start
	for _, d := range dates {
		k := kind(int(d.Sub(prev).Hours()/24 + 0.5))
		if k != cur {
			flush()
			cur, n, first = k, 0, d
		}
		n++
		last, prev = d, d
	}
	flush()
	return strings.Join(runs, " | ")
}

func dateList(ds []time.Time) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Format(time.DateOnly)
	}
	return out
}

// fiveYears are the schedules the five-year tests expect: start date, the
// runs without and with long follow-up, and (for the month-end and leap-day
// starts) every date after the weekly year.
var fiveYears = []struct {
	name, start string
	usual, long string
	usualAfter  []string // every check-in after month 12, usual schedule
	longAfter   []string // the same on long follow-up
}{
	{
		name: "a Monday", start: "2026-01-05",
		usual: "weekly 52 2026-01-12..2027-01-04 | monthly 24 2027-02-04..2029-01-04 | 3-monthly 8 2029-04-04..2031-01-04",
		long:  "weekly 52 2026-01-12..2027-01-04 | monthly 48 2027-02-04..2031-01-04",
	},
	{
		// Agreeing on the 31st: every date keeps its weekday through the
		// first year, then the month steps from the 30th.
		name: "the 31st", start: "2026-01-31",
		usual: "weekly 52 2026-02-07..2027-01-30 | monthly 24 2027-02-28..2029-01-30 | 3-monthly 8 2029-04-30..2031-01-30",
		long:  "weekly 52 2026-02-07..2027-01-30 | monthly 48 2027-02-28..2031-01-30",
	},
	{
		// The weekly year ends on 2027-01-31, so the months step from the
		// 31st: the last day of every shorter month, 29 February in 2028.
		name: "months from the 31st", start: "2026-02-01",
		usual: "weekly 52 2026-02-08..2027-01-31 | monthly 24 2027-02-28..2029-01-31 | 3-monthly 8 2029-04-30..2031-01-31",
		long:  "weekly 52 2026-02-08..2027-01-31 | monthly 48 2027-02-28..2031-01-31",
		usualAfter: []string{
			"2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30", "2027-07-31", "2027-08-31", "2027-09-30",
			"2027-10-31", "2027-11-30", "2027-12-31", "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31",
			"2028-06-30", "2028-07-31", "2028-08-31", "2028-09-30", "2028-10-31", "2028-11-30", "2028-12-31", "2029-01-31",
			"2029-04-30", "2029-07-31", "2029-10-31", "2030-01-31", "2030-04-30", "2030-07-31", "2030-10-31", "2031-01-31",
		},
		longAfter: []string{
			"2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30", "2027-07-31", "2027-08-31", "2027-09-30",
			"2027-10-31", "2027-11-30", "2027-12-31", "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31",
			"2028-06-30", "2028-07-31", "2028-08-31", "2028-09-30", "2028-10-31", "2028-11-30", "2028-12-31", "2029-01-31",
			"2029-02-28", "2029-03-31", "2029-04-30", "2029-05-31", "2029-06-30", "2029-07-31", "2029-08-31", "2029-09-30",
			"2029-10-31", "2029-11-30", "2029-12-31", "2030-01-31", "2030-02-28", "2030-03-31", "2030-04-30", "2030-05-31",
			"2030-06-30", "2030-07-31", "2030-08-31", "2030-09-30", "2030-10-31", "2030-11-30", "2030-12-31", "2031-01-31",
		},
	},
	{
		// Agreeing on a leap day: a year on is 2029-02-28, so the weekly
		// year ends 2029-02-27 and the months step from the 27th; five
		// years end on 2033-02-28.
		name: "a leap day", start: "2028-02-29",
		usual: "weekly 52 2028-03-07..2029-02-27 | monthly 24 2029-03-27..2031-02-27 | 3-monthly 8 2031-05-27..2033-02-27",
		long:  "weekly 52 2028-03-07..2029-02-27 | monthly 48 2029-03-27..2033-02-27",
		usualAfter: []string{
			"2029-03-27", "2029-04-27", "2029-05-27", "2029-06-27", "2029-07-27", "2029-08-27", "2029-09-27", "2029-10-27",
			"2029-11-27", "2029-12-27", "2030-01-27", "2030-02-27", "2030-03-27", "2030-04-27", "2030-05-27", "2030-06-27",
			"2030-07-27", "2030-08-27", "2030-09-27", "2030-10-27", "2030-11-27", "2030-12-27", "2031-01-27", "2031-02-27",
			"2031-05-27", "2031-08-27", "2031-11-27", "2032-02-27", "2032-05-27", "2032-08-27", "2032-11-27", "2033-02-27",
		},
	},
	{
		// Five years across Brazil's last daylight-saving changes (it
		// dropped them in 2019), which happened at local midnight.
		name: "Sao Paulo 2015", start: "2015-01-10",
		usual: "weekly 52 2015-01-17..2016-01-09 | monthly 24 2016-02-09..2018-01-09 | 3-monthly 8 2018-04-09..2020-01-09",
		long:  "weekly 52 2015-01-17..2016-01-09 | monthly 48 2016-02-09..2020-01-09",
	},
}

// TestFiveYearDates: the shipped cadence's exact dates for each start,
// and nothing after year 5.
func TestFiveYearDates(t *testing.T) {
	c := DefaultCadence()
	for _, tt := range fiveYears {
		start := date(tt.start)
		for _, long := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s long=%v", tt.name, long), func(t *testing.T) {
				want, after := tt.usual, tt.usualAfter
				if long {
					want, after = tt.long, tt.longAfter
				}
				ds := c.Dates(start, long)
				if got := phaseRuns(start, ds); got != want {
					t.Errorf("\n got %s\nwant %s", got, want)
				}
				if after != nil {
					if got := dateList(ds[52:]); fmt.Sprint(got) != fmt.Sprint(after) {
						t.Errorf("after the weekly year:\n got %v\nwant %v", got, after)
					}
				}
				fifth := addMonths(start, 60)
				if last := ds[len(ds)-1]; last.After(fifth) || fifth.Sub(last) > 7*24*time.Hour {
					t.Errorf("last check-in %s, want in the week before five years (%s)", last.Format(time.DateOnly), fifth.Format(time.DateOnly))
				}
				if end := c.End(start, long); !end.Equal(fifth) {
					t.Errorf("End %s, want %s", end.Format(time.DateOnly), fifth.Format(time.DateOnly))
				}
			})
		}
	}
}

// answerUntil fires each of person p's check-ins due by until at its due
// time and answers it, and returns when each was sent. It fails the test
// after max check-ins.
func (e *env) answerUntil(p string, until time.Time, max int) []time.Time {
	e.t.Helper()
	ctx := context.Background()
	var sent []time.Time
	for range max + 1 {
		due, ok := fromMS(e.profile(p)[fDue])
		if !ok || due.After(until) {
			return sent
		}
		e.clk.Set(due)
		before := len(e.firesOf(FlowCheckin))
		if _, err := e.s.FireDue(ctx, due); err != nil {
			e.t.Fatal(err)
		}
		f := e.firesOf(FlowCheckin)
		if len(f) != before+1 {
			e.t.Fatalf("%d check-ins fired at %s, want 1", len(f)-before, due)
		}
		sent = append(sent, f[len(f)-1].at)
		e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectRecord, Topic: "checkin.mood", Value: "4"})
	}
	e.t.Fatalf("more than %d check-ins", max)
	return nil
}

// forever is later than any schedule.
var forever = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// TestFiveYearsOnTheScheduler runs the real scheduler on Redis for five
// years in several zones (daylight saving in London; Brazil's historical
// changes at midnight; Kathmandu's +05:45 without any), with and without
// long follow-up: every check-in goes out at 10:00 local on the expected
// date, and after year 5 nothing is left to send.
func TestFiveYearsOnTheScheduler(t *testing.T) {
	q, err := bot.ParseQuietHours("21:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		zone    string
		run     int // index in fiveYears
		offsets int // distinct UTC offsets the check-ins meet
	}{
		{"Europe/London", 0, 2},
		{"Europe/London", 2, 2},
		{"America/Sao_Paulo", 4, 2},
		{"Asia/Kathmandu", 1, 1},
		{"Asia/Kathmandu", 3, 1},
	}
	for _, tc := range cases {
		tt := fiveYears[tc.run]
		for _, long := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s %s long=%v", tc.zone, tt.name, long), func(t *testing.T) {
				e := newEnv(t, nil, Config{Quiet: q})
				st := e.st
				loc := mustLoc(t, tc.zone)
				start := date(tt.start)
				e.clk.Set(time.Date(start.Year(), start.Month(), start.Day(), 12, 0, 0, 0, loc))
				p := e.person("five", map[string]string{fTZ: tc.zone})
				if long {
					if scheduled, err := e.s.SetFollowUp(context.Background(), p, "witness"); err != nil || !scheduled {
						t.Fatalf("SetFollowUp: scheduled %v, %v", scheduled, err)
					}
				}
				sent := e.answerUntil(p, forever, 120)
				var days []time.Time
				offsets := map[int]bool{}
				for _, at := range sent {
					l := at.In(loc)
					_, off := l.Zone()
					offsets[off] = true
					if l.Hour() != 10 || l.Minute() != 0 {
						t.Errorf("sent at %s local, want 10:00", l.Format("2006-01-02 15:04 MST"))
					}
					days = append(days, day(at, loc))
				}
				if len(offsets) != tc.offsets {
					t.Errorf("check-ins met %d UTC offsets, want %d (is the zone data complete?)", len(offsets), tc.offsets)
				}
				want := tt.usual
				if long {
					want = tt.long
				}
				if got := phaseRuns(start, days); got != want {
					t.Errorf("\n got %s\nwant %s", got, want)
				}
				ctx := context.Background()
				if n, _ := st.CheckinsPending(ctx); n != 0 {
					t.Errorf("%d items still due after year 5", n)
				}
				later := e.clk.Now().AddDate(2, 0, 0)
				if n, err := e.s.FireDue(ctx, later); err != nil || n != 0 {
					t.Errorf("%d items fired after year 5 (%v)", n, err)
				}
				if got := len(e.firesOf(FlowCheckin)); got != len(sent) {
					t.Errorf("%d check-ins in all, %d in the schedule", got, len(sent))
				}
			})
		}
	}
}

// TestFollowUpSetAndClearedLate: a coach marks a person in year 4 (every
// three months by then): the next check-in moves to the next month, and
// they go monthly. The mark cleared in year 5 puts them back on the
// three-monthly dates, and the schedule still ends at year 5.
func TestFollowUpSetAndClearedLate(t *testing.T) {
	e := newEnv(t, nil, Config{})
	ctx := context.Background()
	loc := mustLoc(t, "Europe/London")
	e.clk.Set(time.Date(2026, 1, 5, 12, 0, 0, 0, loc))
	p := e.person("late", map[string]string{fTZ: "Europe/London"})
	local := func(ts []time.Time) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.In(loc).Format("2006-01-02 15:04"))
		}
		return out
	}

	// Year 4, on the usual schedule: three-monthly from 2029-04-04.
	e.clk.Set(time.Date(2029, 4, 20, 12, 0, 0, 0, loc))
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectStart}) // plans from today, as START does
	if got := local([]time.Time{e.due(p)}); got[0] != "2029-07-04 10:00" {
		t.Fatalf("usual next check-in %s, want 2029-07-04 10:00", got[0])
	}
	if scheduled, err := e.s.SetFollowUp(ctx, p, "mental_health"); err != nil || !scheduled {
		t.Fatalf("SetFollowUp: %v, %v", scheduled, err)
	}
	if got := e.profile(p)[fLong]; got != "mental_health" {
		t.Fatalf("profile %s = %q", fLong, got)
	}
	monthly := local(e.answerUntil(p, time.Date(2030, 2, 10, 0, 0, 0, 0, loc), 20))
	want := []string{"2029-05-04 10:00", "2029-06-04 10:00", "2029-07-04 10:00", "2029-08-04 10:00", "2029-09-04 10:00",
		"2029-10-04 10:00", "2029-11-04 10:00", "2029-12-04 10:00", "2030-01-04 10:00", "2030-02-04 10:00"}
	if fmt.Sprint(monthly) != fmt.Sprint(want) {
		t.Fatalf("on long follow-up:\n got %v\nwant %v", monthly, want)
	}

	e.clk.Set(time.Date(2030, 2, 10, 12, 0, 0, 0, loc))
	if scheduled, err := e.s.SetFollowUp(ctx, p, FollowUpOff); err != nil || !scheduled {
		t.Fatalf("SetFollowUp off: %v, %v", scheduled, err)
	}
	if _, ok := e.profile(p)[fLong]; ok {
		t.Fatal("the mark is still in the profile")
	}
	rest := local(e.answerUntil(p, forever, 20))
	want = []string{"2030-04-04 10:00", "2030-07-04 10:00", "2030-10-04 10:00", "2031-01-04 10:00"}
	if fmt.Sprint(rest) != fmt.Sprint(want) {
		t.Fatalf("back on the usual schedule:\n got %v\nwant %v", rest, want)
	}
}

// TestSetFollowUpRules: only the listed reasons; a person who has no
// check-ins keeps the mark for when they take them; an unknown person is
// an error.
func TestSetFollowUpRules(t *testing.T) {
	e := newEnv(t, nil, Config{})
	st := e.st
	ctx := context.Background()
	p := e.person("rules", nil)
	for _, bad := range []string{"", "adult", "Witness", "witness,minor"} {
		if _, err := e.s.SetFollowUp(ctx, p, bad); err == nil {
			t.Errorf("reason %q accepted", bad)
		}
	}
	if got := e.profile(p)[fLong]; got != "" {
		t.Fatalf("a refused reason left %q", got)
	}
	for _, r := range FollowUpReasons {
		if _, err := e.s.SetFollowUp(ctx, p, r); err != nil || e.profile(p)[fLong] != r {
			t.Errorf("reason %s: %v, kept %q", r, err, e.profile(p)[fLong])
		}
	}
	// Not taking check-ins: the mark is kept, nothing is scheduled, and
	// joining check-ins later follows the long schedule.
	before := e.profile(p)
	e.s.Effect(ctx, p, before, flows.Effect{Kind: flows.EffectUnsubscribe, Topic: Topic})
	if err := st.SetProfile(ctx, p, map[string]string{"sub.checkins": ""}); err != nil {
		t.Fatal(err)
	}
	scheduled, err := e.s.SetFollowUp(ctx, p, "children")
	if err != nil || scheduled {
		t.Fatalf("not subscribed: scheduled %v, %v; want false, nil", scheduled, err)
	}
	if got := e.profile(p)[fLong]; got != "children" {
		t.Fatalf("mark %q, want children", got)
	}
	if err := st.SetProfile(ctx, p, map[string]string{"sub.checkins": "1"}); err != nil {
		t.Fatal(err)
	}
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectSubscribe, Topic: Topic})
	start := day(e.clk.Now(), time.UTC)
	e.clk.Set(time.Date(start.Year()+3, start.Month(), start.Day()+20, 12, 0, 0, 0, time.UTC))
	e.s.Effect(ctx, p, nil, flows.Effect{Kind: flows.EffectStart})
	if gap := e.due(p).Sub(e.clk.Now()); gap > 31*24*time.Hour {
		t.Fatalf("in year 4 on long follow-up the next check-in is %s away, want within a month", gap)
	}
	if _, err := e.s.SetFollowUp(ctx, "nobody", "minor"); !errors.Is(err, store.ErrNoProfile) {
		t.Fatalf("unknown person: %v, want ErrNoProfile", err)
	}
}
