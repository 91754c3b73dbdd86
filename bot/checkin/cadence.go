package checkin

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed cadence.yaml
var shippedCadence []byte

// CadenceFile is the name of the cadence file in CONTENT_DIR.
const CadenceFile = "cadence.yaml"

// Span is a length of calendar time: a whole number of hours, days, weeks
// or calendar months ("36h", "3d", "2w", "6mo"). Days, weeks and months are
// counted on the person's local calendar, so they keep the wall-clock time
// across daylight-saving changes.
type Span struct {
	N    int
	Unit string // "h", "d", "w" or "mo"
}

// ParseSpan reads a Span such as "2w".
func ParseSpan(s string) (Span, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i <= 0 {
		return Span{}, fmt.Errorf("%q is not a length like 3d, 2w or 6mo", s)
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n <= 0 {
		return Span{}, fmt.Errorf("%q is not a positive length", s)
	}
	switch u := s[i:]; u {
	case "h", "d", "w", "mo":
		return Span{N: n, Unit: u}, nil
	}
	return Span{}, fmt.Errorf("%q has an unknown unit (use h, d, w or mo)", s)
}

// String writes the span as it is read ("2w").
func (s Span) String() string { return strconv.Itoa(s.N) + s.Unit }

// UnmarshalYAML reads a Span from a string.
func (s *Span) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSpan(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// add returns t plus k spans, in t's location: calendar units keep the
// wall-clock time, and a month from the 31st ends on the month's last day.
func (s Span) add(t time.Time, k int) time.Time {
	switch s.Unit {
	case "h":
		return t.Add(time.Duration(k*s.N) * time.Hour)
	case "d":
		return t.AddDate(0, 0, k*s.N)
	case "w":
		return t.AddDate(0, 0, 7*k*s.N)
	}
	return addMonths(t, k*s.N)
}

// approx is the span's rough length, for comparing spans in validation.
func (s Span) approx() time.Duration {
	day := 24 * time.Hour
	switch s.Unit {
	case "h":
		return time.Duration(s.N) * time.Hour
	case "d":
		return time.Duration(s.N) * day
	case "w":
		return time.Duration(s.N) * 7 * day
	}
	return time.Duration(s.N) * 28 * day // the shortest month
}

// addMonths adds n calendar months, clamping the day to the month's end.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, t.Location()).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// Phase is one stretch of the schedule: a check-in every Every until Until
// after the day the person agreed.
type Phase struct {
	Every Span `yaml:"every"`
	Until Span `yaml:"until"`
}

// Cadence is the check-in schedule, read from cadence.yaml. It is data so
// a programme can change it without recompiling.
type Cadence struct {
	Phases []Phase `yaml:"phases"`
	// LongFollowUp replaces Phases for a person a coach marked for long
	// follow-up (guidelines 3d: minors, witnesses, people with their
	// children, mental-health needs). It is never less frequent than
	// Phases, nor shorter.
	LongFollowUp []Phase           `yaml:"long_follow_up"`
	Times        map[string]string `yaml:"times"`
	DefaultTime  string            `yaml:"default_time"`
	// ReminderAfter an unanswered check-in, one reminder is sent.
	ReminderAfter Span `yaml:"reminder_after"`
	// MissedAfter an unanswered check-in counts as missed.
	MissedAfter Span `yaml:"missed_after"`
	// WelfareAfterMisses missed check-ins in a row open a welfare case.
	WelfareAfterMisses int `yaml:"welfare_after_misses"`
	// SilentAfter without a word from the person counts as a dropout.
	SilentAfter Span `yaml:"silent_after"`

	minutes map[string]int // Times parsed: minutes after midnight
}

// Overrides a coach can set for one person (SetCadence), as spans.
var overrides = map[string]Span{
	"weekly":   {1, "w"},
	"biweekly": {2, "w"},
	"monthly":  {1, "mo"},
}

// ParseCadence reads and validates a cadence file.
func ParseCadence(raw []byte) (*Cadence, error) {
	var c Cadence
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("cadence: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("cadence: %w", err)
	}
	return &c, nil
}

func (c *Cadence) validate() error {
	if len(c.Phases) == 0 {
		return errors.New("no phases")
	}
	shortest, err := validPhases("phase", c.Phases)
	if err != nil {
		return err
	}
	if len(c.LongFollowUp) == 0 {
		return errors.New("no long_follow_up phases (the schedule of people a coach marks for long follow-up)")
	}
	long, err := validPhases("long_follow_up phase", c.LongFollowUp)
	if err != nil {
		return err
	}
	shortest = min(shortest, long)
	if err := atLeastAsOften(c.LongFollowUp, c.Phases); err != nil {
		return fmt.Errorf("long_follow_up %w", err)
	}
	for _, s := range overrides {
		shortest = min(shortest, s.approx())
	}
	c.minutes = map[string]int{}
	for name, v := range c.Times {
		t, err := time.Parse("15:04", v)
		if err != nil {
			return fmt.Errorf("time %s: %q is not like 10:00", name, v)
		}
		c.minutes[name] = t.Hour()*60 + t.Minute()
	}
	if _, ok := c.minutes[c.DefaultTime]; !ok {
		return fmt.Errorf("default_time %q is not one of times", c.DefaultTime)
	}
	if c.ReminderAfter.N == 0 || c.MissedAfter.N == 0 || c.SilentAfter.N == 0 {
		return errors.New("reminder_after, missed_after and silent_after are required")
	}
	if c.ReminderAfter.approx() >= c.MissedAfter.approx() {
		return errors.New("reminder_after must be shorter than missed_after")
	}
	if c.MissedAfter.approx() >= shortest {
		return fmt.Errorf("missed_after (%s) must be shorter than the shortest gap between check-ins", c.MissedAfter)
	}
	if c.WelfareAfterMisses < 1 {
		return errors.New("welfare_after_misses must be at least 1")
	}
	return nil
}

// validPhases checks one list of phases and returns its shortest gap.
func validPhases(what string, phases []Phase) (time.Duration, error) {
	var prev time.Duration
	shortest := time.Duration(1<<63 - 1)
	for i, p := range phases {
		if p.Every.N == 0 || p.Until.N == 0 {
			return 0, fmt.Errorf("%s %d needs every and until", what, i+1)
		}
		if p.Every.Unit == "h" || p.Until.Unit == "h" {
			return 0, fmt.Errorf("%s %d: use d, w or mo, not hours", what, i+1)
		}
		if p.Until.approx() <= prev {
			return 0, fmt.Errorf("%s %d ends (%s) before the previous one", what, i+1, p.Until)
		}
		if p.Every.approx() > p.Until.approx()-prev {
			return 0, fmt.Errorf("%s %d: every %s does not fit before %s", what, i+1, p.Every, p.Until)
		}
		prev = p.Until.approx()
		shortest = min(shortest, p.Every.approx())
	}
	return shortest, nil
}

// gapAt is the gap between check-ins that phases give at offset x from the
// start, and false once they have ended.
func gapAt(phases []Phase, x time.Duration) (time.Duration, bool) {
	for _, p := range phases {
		if x < p.Until.approx() {
			return p.Every.approx(), true
		}
	}
	return 0, false
}

// atLeastAsOften checks that long lasts as long as usual and never leaves
// longer gaps, at any point of the schedule.
func atLeastAsOften(long, usual []Phase) error {
	if end, want := long[len(long)-1].Until, usual[len(usual)-1].Until; end.approx() < want.approx() {
		return fmt.Errorf("ends (%s) before the usual phases (%s)", end, want)
	}
	points := []time.Duration{0}
	for _, p := range append(slices.Clone(long), usual...) {
		points = append(points, p.Until.approx())
	}
	for _, x := range points {
		u, ok := gapAt(usual, x)
		if !ok {
			continue
		}
		if l, _ := gapAt(long, x); l > u {
			return fmt.Errorf("is less frequent than the usual phases around %d days", int(x.Hours()/24))
		}
	}
	return nil
}

// DefaultCadence returns the shipped cadence.
func DefaultCadence() *Cadence {
	c, err := ParseCadence(shippedCadence)
	if err != nil {
		panic(err) // embedded at build time and tested
	}
	return c
}

// LoadCadence returns CONTENT_DIR/cadence.yaml when dir has one, or else
// the shipped cadence. A file that does not validate is an error, so a bad
// cadence stops the start rather than silently changing the schedule.
func LoadCadence(dir string) (*Cadence, error) {
	if dir == "" {
		return DefaultCadence(), nil
	}
	raw, err := os.ReadFile(filepath.Join(dir, CadenceFile))
	if errors.Is(err, os.ErrNotExist) {
		return DefaultCadence(), nil
	}
	if err != nil {
		return nil, err
	}
	c, err := ParseCadence(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, CadenceFile), err)
	}
	return c, nil
}

// Minutes returns the local minute of the day for a time-of-day name, or
// the default time's.
func (c *Cadence) Minutes(name string) int {
	if m, ok := c.minutes[name]; ok {
		return m
	}
	return c.minutes[c.DefaultTime]
}

// day is a civil date: midnight UTC stands for the date whatever the zone,
// so arithmetic on it never meets a daylight-saving change.
func day(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// at is the instant of local time minute on civil date d in loc. A time
// that a daylight-saving change skips is moved forward by the gap (02:30
// on the spring change is 03:30), whichever way time.Date resolved it; a
// time that repeats in the autumn is taken once.
func at(d time.Time, minute int, loc *time.Location) time.Time {
	t := time.Date(d.Year(), d.Month(), d.Day(), minute/60, minute%60, 0, 0, loc)
	if t.Hour()*60+t.Minute() < minute && t.Day() == d.Day() {
		_, before := t.Add(-12 * time.Hour).Zone()
		_, after := t.Add(12 * time.Hour).Zone()
		if after > before {
			t = t.Add(time.Duration(after-before) * time.Second)
		}
	}
	return t
}

// Dates returns the civil dates of every check-in for a person who agreed
// on civil date start, in order: each phase steps from the last date of the
// phase before. long picks the long follow-up schedule.
func (c *Cadence) Dates(start time.Time, long bool) []time.Time {
	var out []time.Time
	base := start
	for _, p := range c.phases(long) {
		end := p.Until.add(start, 1)
		for k := 1; ; k++ {
			d := p.Every.add(base, k)
			if d.After(end) {
				break
			}
			out = append(out, d)
		}
		if len(out) > 0 {
			base = out[len(out)-1]
		}
	}
	return out
}

// End is the civil date after which no check-in is sent.
func (c *Cadence) End(start time.Time, long bool) time.Time {
	ps := c.phases(long)
	return ps[len(ps)-1].Until.add(start, 1)
}

func (c *Cadence) phases(long bool) []Phase {
	if long {
		return c.LongFollowUp
	}
	return c.Phases
}

// overrideDates are the dates of a coach's fixed cadence: every span from
// base, until end.
func overrideDates(base time.Time, every Span, end time.Time) []time.Time {
	var out []time.Time
	for k := 1; ; k++ {
		d := every.add(base, k)
		if d.After(end) {
			return out
		}
		out = append(out, d)
	}
}
