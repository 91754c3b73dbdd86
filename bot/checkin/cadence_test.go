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

func TestShippedCadence(t *testing.T) {
	c := DefaultCadence()
	dates := c.Dates(date("2026-01-05"))
	// 12 weekly, then every two weeks to month 6, then monthly to month 36.
	weekly, biweekly, monthly := 0, 0, 0
	prev := date("2026-01-05")
	for _, d := range dates {
		switch gap := d.Sub(prev) / (24 * time.Hour); {
		case gap == 7:
			weekly++
		case gap == 14:
			biweekly++
		case gap >= 28 && gap <= 31:
			monthly++
		default:
			t.Errorf("gap of %d days before %s", gap, d.Format(time.DateOnly))
		}
		prev = d
	}
	if weekly != 12 || biweekly != 6 {
		t.Errorf("weekly %d, biweekly %d: want 12 and 6", weekly, biweekly)
	}
	if last := dates[len(dates)-1]; last.After(date("2029-01-05")) || last.Before(date("2028-12-01")) {
		t.Errorf("last check-in %s, want in the month before 2029-01-05", last.Format(time.DateOnly))
	}
	if monthly != 30 {
		t.Errorf("monthly %d, want 30", monthly)
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
			got := tt.c.Dates(date(tt.start))
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
	// The switch from fortnightly to monthly never leaves a short gap,
	// whatever the start day.
	c := DefaultCadence()
	for d := date("2026-01-01"); d.Before(date("2027-01-01")); d = d.AddDate(0, 0, 1) {
		ds := c.Dates(d)
		for i := 1; i < len(ds); i++ {
			if gap := ds[i].Sub(ds[i-1]); gap < 7*24*time.Hour {
				t.Fatalf("start %s: %s after %s", d.Format(time.DateOnly), ds[i].Format(time.DateOnly), ds[i-1].Format(time.DateOnly))
			}
		}
	}
}

func TestCadenceValidation(t *testing.T) {
	good := string(shippedCadence)
	bad := map[string]string{
		"no phases":         "times: {morning: \"10:00\"}\ndefault_time: morning\nreminder_after: 1d\nmissed_after: 3d\nwelfare_after_misses: 2\nsilent_after: 8w\n",
		"unknown field":     good + "\nsurprise: 1\n",
		"bad unit":          strings.Replace(good, "every: 1w, until: 12w", "every: 1x, until: 12w", 1),
		"phases backwards":  strings.Replace(good, "until: 6mo", "until: 2w", 1),
		"bad time":          strings.Replace(good, `"10:00"`, `"25:00"`, 1),
		"missed after next": strings.Replace(good, "missed_after: 3d", "missed_after: 8d", 1),
		"reminder late":     strings.Replace(good, "reminder_after: 1d", "reminder_after: 4d", 1),
		"default time":      strings.Replace(good, "default_time: morning", "default_time: noon", 1),
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
	custom := strings.Replace(good, "every: 1w, until: 12w", "every: 1w, until: 4w", 1)
	if err := os.WriteFile(filepath.Join(dir, CadenceFile), []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCadence(dir)
	if err != nil || c.Phases[0].Until != (Span{4, "w"}) {
		t.Fatalf("override not used: %v, %v", c, err)
	}
	if err := os.WriteFile(filepath.Join(dir, CadenceFile), []byte(bad["bad time"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCadence(dir); err == nil || !strings.Contains(err.Error(), CadenceFile) {
		t.Fatalf("a bad override must fail naming the file, got %v", err)
	}
}
