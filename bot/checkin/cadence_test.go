package checkin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestShippedCadence: weekly to month 12, monthly in months 13-36, then
// every three months to year 5, or monthly to year 5 on long follow-up.
func TestShippedCadence(t *testing.T) {
	c := DefaultCadence()
	start := date("2026-01-05")
	tests := []struct {
		long bool
		want string
	}{
		{false, "weekly 52 2026-01-12..2027-01-04 | monthly 24 2027-02-04..2029-01-04 | 3-monthly 8 2029-04-04..2031-01-04"},
		{true, "weekly 52 2026-01-12..2027-01-04 | monthly 48 2027-02-04..2031-01-04"},
	}
	for _, tt := range tests {
		if got := phaseRuns(start, c.Dates(start, tt.long)); got != tt.want {
			t.Errorf("long %v:\n got %s\nwant %s", tt.long, got, tt.want)
		}
		if end := c.End(start, tt.long); end != date("2031-01-05") {
			t.Errorf("long %v: ends %s, want 2031-01-05 (five years)", tt.long, end.Format(time.DateOnly))
		}
	}
}

func TestScheduleArithmetic(t *testing.T) {
	monthly := &Cadence{Phases: []Phase{{Every: Span{1, "mo"}, Until: Span{14, "mo"}}}}
	tests := []struct {
		name  string
		c     *Cadence
		start string
		want  []string // the first dates
	}{
		{"weeks across a year end", DefaultCadence(), "2026-12-20", []string{"2026-12-27", "2027-01-03", "2027-01-10"}},
		{"weeks across February in a leap year", DefaultCadence(), "2028-02-22", []string{"2028-02-29", "2028-03-07"}},
		{"months from the 31st keep the month's last day", monthly, "2026-01-31",
			[]string{"2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30", "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30", "2026-12-31", "2027-01-31", "2027-02-28", "2027-03-31"}},
		{"months across a year end", monthly, "2026-11-15", []string{"2026-12-15", "2027-01-15", "2027-02-15"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.Dates(date(tt.start), false)
			if len(got) < len(tt.want) {
				t.Fatalf("got %d dates, want at least %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				if g := got[i].Format(time.DateOnly); g != w {
					t.Errorf("date %d: got %s, want %s", i+1, g, w)
				}
			}
		})
	}
	// The switches between phases never leave a short gap, whatever the
	// start day, on either schedule.
	c := DefaultCadence()
	for d := date("2026-01-01"); d.Before(date("2027-01-01")); d = d.AddDate(0, 0, 1) {
		for _, long := range []bool{false, true} {
			ds := c.Dates(d, long)
			for i := 1; i < len(ds); i++ {
				if gap := ds[i].Sub(ds[i-1]); gap < 7*24*time.Hour {
					t.Fatalf("start %s: %s after %s", d.Format(time.DateOnly), ds[i].Format(time.DateOnly), ds[i-1].Format(time.DateOnly))
				}
			}
		}
	}
}

func TestCadenceValidation(t *testing.T) {
	good := string(shippedCadence)
	noLong := good[:strings.Index(good, "long_follow_up:")] + good[strings.Index(good, "# Local times"):]
	bad := map[string]string{
		"no phases":                "times: {morning: \"10:00\"}\ndefault_time: morning\nreminder_after: 1d\nmissed_after: 3d\nwelfare_after_misses: 2\nsilent_after: 8w\n",
		"unknown field":            good + "\nsurprise: 1\n",
		"bad unit":                 strings.Replace(good, "every: 1w, until: 12mo", "every: 1x, until: 12mo", 1),
		"phases backwards":         strings.Replace(good, "until: 36mo", "until: 6mo", 1),
		"every longer than phase":  strings.Replace(good, "every: 3mo, until: 60mo", "every: 36mo, until: 60mo", 1),
		"bad time":                 strings.Replace(good, `"10:00"`, `"25:00"`, 1),
		"missed after next":        strings.Replace(good, "missed_after: 3d", "missed_after: 8d", 1),
		"reminder late":            strings.Replace(good, "reminder_after: 1d", "reminder_after: 4d", 1),
		"default time":             strings.Replace(good, "default_time: morning", "default_time: noon", 1),
		"no long follow-up":        noLong,
		"long less often":          strings.Replace(good, "every: 1mo, until: 60mo", "every: 6mo, until: 60mo", 1),
		"long shorter":             strings.Replace(good, "every: 1mo, until: 60mo", "every: 1mo, until: 48mo", 1),
		"long in hours":            strings.Replace(good, "every: 1mo, until: 60mo", "every: 12h, until: 60mo", 1),
		"long gap under missed":    strings.Replace(good, "every: 1mo, until: 60mo", "every: 2d, until: 60mo", 1),
		"long weekly phase sparse": strings.Replace(good, "long_follow_up:\n  - {every: 1w, until: 12mo}", "long_follow_up:\n  - {every: 2w, until: 12mo}", 1),
	}
	for name, raw := range bad {
		if raw == good {
			t.Errorf("%s: the test's edit did not apply", name)
		}
	}
	for name, raw := range bad {
		if _, err := ParseCadence([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	dir := t.TempDir()
	if c, err := LoadCadence(dir); err != nil || len(c.Phases) != 3 {
		t.Fatalf("no file in CONTENT_DIR: want the shipped cadence, got %v, %v", c, err)
	}
	// Weekly for six months only: long follow-up may still be weekly to
	// month 12, as it is more frequent, never less.
	custom := strings.Replace(good, "every: 1w, until: 12mo", "every: 1w, until: 6mo", 1)
	if err := os.WriteFile(filepath.Join(dir, CadenceFile), []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCadence(dir)
	if err != nil || c.Phases[0].Until != (Span{6, "mo"}) || c.LongFollowUp[0].Until != (Span{12, "mo"}) {
		t.Fatalf("override not used: %v, %v", c, err)
	}
	if err := os.WriteFile(filepath.Join(dir, CadenceFile), []byte(bad["bad time"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCadence(dir); err == nil || !strings.Contains(err.Error(), CadenceFile) {
		t.Fatalf("a bad override must fail naming the file, got %v", err)
	}
}
