package bot

import (
	"fmt"
	"strings"
	"time"
)

// QuietHours is the part of each local day when no scheduled message
// (check-in, reminder, broadcast) is sent, so a phone does not light up at
// night where someone may see it. From and To are minutes after midnight;
// the span may cross midnight. The zero value is off.
type QuietHours struct {
	From, To int
	On       bool
}

// ParseQuietHours reads "HH:MM-HH:MM", or "off".
func ParseQuietHours(v string) (QuietHours, error) {
	v = strings.TrimSpace(v)
	if v == "off" || v == "" {
		return QuietHours{}, nil
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("quiet hours must look like 21:00-08:00 or be off")
	}
	from, err := clockMinutes(a)
	if err != nil {
		return QuietHours{}, err
	}
	to, err := clockMinutes(b)
	if err != nil {
		return QuietHours{}, err
	}
	return QuietHours{From: from, To: to, On: from != to}, nil
}

func clockMinutes(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a time like 21:00", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// quiet reports whether local minute m of the day is inside the span.
func (q QuietHours) quiet(m int) bool {
	if !q.On {
		return false
	}
	if q.From < q.To {
		return m >= q.From && m < q.To
	}
	return m >= q.From || m < q.To
}

// Next returns t when it is outside quiet hours in loc, or else the first
// minute after them. Daylight-saving changes are handled by working on the
// wall clock of the day in question.
func (q QuietHours) Next(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	if !q.quiet(local.Hour()*60 + local.Minute()) {
		return t
	}
	// The end of the quiet span, today or tomorrow in local time.
	end := time.Date(local.Year(), local.Month(), local.Day(), q.To/60, q.To%60, 0, 0, loc)
	if !end.After(local) {
		end = time.Date(local.Year(), local.Month(), local.Day()+1, q.To/60, q.To%60, 0, 0, loc)
	}
	return end
}

// Location loads a person's time zone, falling back to def.
func Location(name string, def *time.Location) *time.Location {
	if name == "" {
		return def
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return def
	}
	return loc
}
