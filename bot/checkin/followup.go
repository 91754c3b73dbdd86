package checkin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lifeline-org/lifeline/bot"
)

// fLong holds the reason a coach gave for long follow-up; empty for the
// usual schedule.
const fLong = bot.FieldLongFollowUp

// FollowUpReasons are the reasons a coach may give for long follow-up: the
// people the guidelines (3d) say may need it longer.
var FollowUpReasons = []string{"minor", "witness", "children", "mental_health"}

// FollowUpOff clears the long follow-up mark.
const FollowUpOff = "off"

// SetFollowUp marks a person for long follow-up (Cadence.LongFollowUp)
// with one of FollowUpReasons, or clears the mark with FollowUpOff, and
// moves their next check-in to fit. The mark is kept whether or not the
// person takes check-ins now; scheduled reports whether a check-in is
// planned for them, so the coach can be told it waits until they do. It is
// for a coach's command, which audits it.
func (s *Scheduler) SetFollowUp(ctx context.Context, person, reason string) (scheduled bool, err error) {
	if reason != FollowUpOff && !slices.Contains(FollowUpReasons, reason) {
		return false, fmt.Errorf("unknown reason %q (use %s, or %s)", reason, strings.Join(FollowUpReasons, ", "), FollowUpOff)
	}
	value := reason
	if reason == FollowUpOff {
		value = ""
	}
	now := s.now()
	p, err := s.update(ctx, person, func(p map[string]string) map[string]string {
		set := map[string]string{fLong: value}
		// The next check-in is the first one after now on the
		// schedule that now applies (the two differ in length, so an
		// index into one means nothing in the other).
		s.replan(p, set, 1, now)
		return set
	})
	if err != nil {
		return false, err
	}
	// The reason is sensitive: logs say only that the mark changed.
	s.log.Info("long follow-up changed", "event", "checkin_long_followup", "person", person, "on", value != "")
	return p[fDue] != "", nil
}
