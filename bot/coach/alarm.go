package coach

import (
	"context"
	"strconv"
	"time"

	"github.com/lifeline-org/lifeline/flows"
)

// Words of danger (or the safe word) from a person whose case a coach
// already holds do not open a second case: the relay goes on, the coach is
// alerted at once, and the case is raised to the coaches' group and the
// supervisors as well when coaches are off duty, or when the coach has not
// answered within the urgent target (Reannounce[urgent]).

// alarmed reports whether an escalation is an alarm: urgent words from the
// person.
func alarmed(reason, priority string) bool {
	return priority == flows.PriorityUrgent && (reason == "crisis" || reason == "safe_word")
}

// alarm handles urgent words in a claimed case.
func (m *Module) alarm(ctx context.Context, open *CaseRecord, reason string, prof map[string]string) error {
	now := m.now()
	target := m.cfg.Reannounce[flows.PriorityUrgent]
	if err := m.st.RaiseCaseAlarm(ctx, open.Alias, reason, now, now.Add(target)); err != nil {
		return err
	}
	m.log.Info("urgent words in a claimed case", "event", "case_alarm", "case", open.Alias, "reason", reason)
	if open.Coach != 0 {
		m.say(ctx, open.Coach, "coach.relay_alarm", map[string]string{"alias": open.Alias, "minutes": strconv.Itoa(int(target.Minutes()))})
	}
	if !m.cfg.Hours.Open(now) {
		m.tellOutOfHours(ctx, open.Person, prof, now)
		return m.raiseAlarm(ctx, open, reason, 0)
	}
	return nil
}

// answered records that the case's coach wrote to the person.
func (m *Module) answered(ctx context.Context, alias string) {
	if err := m.st.CaseAnswered(ctx, alias, m.now()); err != nil {
		m.log.Warn("coach answer not recorded", "event", "case_answer_unrecorded", "case", alias, "error", err)
	}
}

// checkAnswer fires the urgent target's timer: when the coach has not
// written since the alarm, everyone who can act is told. c is the case as
// just read.
func (m *Module) checkAnswer(ctx context.Context, c *CaseRecord) error {
	if c.Alarm.IsZero() || !c.Answered.Before(c.Alarm) {
		return nil
	}
	return m.raiseAlarm(ctx, c, c.AlarmReason, m.now().Sub(c.Alarm))
}

// raiseAlarm tells the coaches' group and the supervisors that a held case
// has urgent words nobody has answered.
func (m *Module) raiseAlarm(ctx context.Context, c *CaseRecord, reason string, waited time.Duration) error {
	data := map[string]string{"alias": c.Alias, "reason": reason, "minutes": strconv.Itoa(int(waited.Minutes()))}
	m.log.Info("urgent words unanswered; raised", "event", "case_alarm_raised", "case", c.Alias)
	for _, s := range m.cfg.Supervisors {
		m.say(ctx, s, "coach.relay_alarm_raised", data)
	}
	if m.cfg.Group == 0 {
		return nil
	}
	return m.send(ctx, m.cfg.Group, m.rt.Render(m.def, "coach.relay_alarm_raised", data), false, "")
}
