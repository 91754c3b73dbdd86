package coach

import (
	"fmt"
	"strings"
	"time"
)

// Hours are when coaches answer, e.g. "Mon-Fri 09:00-17:00", in one time
// zone. The zero value is always open.
type Hours struct {
	days     [7]bool // by time.Weekday
	from, to int     // minutes after midnight
	loc      *time.Location
	set      bool
}

var weekdays = map[string]time.Weekday{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// ParseHours reads "Mon-Fri 09:00-17:00", "Mon,Wed 10:00-14:00" or
// "always".
func ParseHours(v string, loc *time.Location) (Hours, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "always") {
		return Hours{}, nil
	}
	dayPart, timePart, ok := strings.Cut(v, " ")
	if !ok {
		return Hours{}, fmt.Errorf("coach hours must look like Mon-Fri 09:00-17:00 or always")
	}
	h := Hours{loc: loc, set: true}
	for _, span := range strings.Split(dayPart, ",") {
		a, b, isRange := strings.Cut(strings.ToLower(span), "-")
		da, ok1 := weekdays[a]
		db, ok2 := weekdays[b]
		if !isRange {
			db, ok2 = da, ok1
		}
		if !ok1 || !ok2 {
			return Hours{}, fmt.Errorf("coach hours: %q is not a day or range of days like Mon-Fri", span)
		}
		for d := da; ; d = (d + 1) % 7 {
			h.days[d] = true
			if d == db {
				break
			}
		}
	}
	a, b, ok := strings.Cut(strings.TrimSpace(timePart), "-")
	if !ok {
		return Hours{}, fmt.Errorf("coach hours: %q is not a span like 09:00-17:00", timePart)
	}
	var err error
	if h.from, err = minutes(a); err == nil {
		h.to, err = minutes(b)
	}
	if err != nil {
		return Hours{}, err
	}
	if h.to <= h.from {
		return Hours{}, fmt.Errorf("coach hours must end after they start")
	}
	if h.loc == nil {
		h.loc = time.UTC
	}
	return h, nil
}

func minutes(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("coach hours: %q is not a time like 09:00", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Open reports whether coaches answer at t.
func (h Hours) Open(t time.Time) bool {
	if !h.set {
		return true
	}
	l := t.In(h.loc)
	m := l.Hour()*60 + l.Minute()
	return h.days[l.Weekday()] && m >= h.from && m < h.to
}

// NextOpen returns t if coaches answer then, or when they next start.
func (h Hours) NextOpen(t time.Time) time.Time {
	if h.Open(t) {
		return t
	}
	l := t.In(h.loc)
	for i := 0; i < 8; i++ {
		d := time.Date(l.Year(), l.Month(), l.Day()+i, h.from/60, h.from%60, 0, 0, h.loc)
		if d.After(t) && h.days[d.Weekday()] {
			return d
		}
	}
	return t
}
