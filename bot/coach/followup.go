package coach

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/store"
)

// FollowUpReasons are the reasons a coach may give for long follow-up
// (ILO guidelines 3d); the check-in scheduler accepts the same words.
var FollowUpReasons = []string{"minor", "witness", "children", "mental_health"}

// followUpOff is the word that ends long follow-up.
const followUpOff = "off"

// FollowUpMessageIDs are the message ids followUp renders, for content
// checks.
var FollowUpMessageIDs = []string{
	"followup.help", "followup.status_on", "followup.status_off", "followup.set", "followup.set_later", "followup.cleared",
	"followup.reason.minor", "followup.reason.witness", "followup.reason.children", "followup.reason.mental_health",
}

// followUp serves /followup, by which the coach holding a case marks its
// person for long follow-up (monthly check-ins to year 5):
//
//	/followup                      the current case's mark, and how to set it
//	/followup [ALIAS]              the mark of case ALIAS
//	/followup [ALIAS] REASON       mark: minor, witness, children, mental_health
//	/followup [ALIAS] off          back to the usual schedule
//
// Each change is audited under the coach's pseudonym without its reason:
// the reason stays in the person's profile, where DELETE erases it.
func (m *Module) followUp(ctx context.Context, coach int64, arg string) error {
	if m.cfg.SetFollowUp == nil {
		m.say(ctx, coach, "coach.help", nil)
		return nil
	}
	words := strings.Fields(strings.ToLower(arg))
	alias, reason := "", ""
	switch len(words) {
	case 0:
	case 1:
		if isFollowUpWord(words[0]) {
			reason = words[0]
		} else {
			alias = words[0]
		}
	case 2:
		alias, reason = words[0], words[1]
	default:
		m.say(ctx, coach, "followup.help", nil)
		return nil
	}
	if reason != "" && !isFollowUpWord(reason) {
		m.say(ctx, coach, "followup.help", nil)
		return nil
	}
	c, ok := m.holding(ctx, coach, alias)
	if !ok {
		return nil
	}
	if reason == "" {
		return m.followUpStatus(ctx, coach, c)
	}
	scheduled, err := m.cfg.SetFollowUp(ctx, c.Person, reason)
	if errors.Is(err, store.ErrNoProfile) {
		m.say(ctx, coach, "coach.no_case", nil) // erased meanwhile
		return nil
	}
	if err != nil {
		return err // Redis: the action is tried again
	}
	if reason == followUpOff {
		m.audit(ctx, coach, "followup.clear", c.Alias)
		m.say(ctx, coach, "followup.cleared", map[string]string{"alias": c.Alias})
		return nil
	}
	m.audit(ctx, coach, "followup.set", c.Alias)
	msg := "followup.set"
	if !scheduled {
		msg = "followup.set_later"
	}
	m.say(ctx, coach, msg, map[string]string{"alias": c.Alias, "reason": m.rt.Render(m.def, "followup.reason."+reason, nil)})
	return nil
}

// followUpStatus tells the coach whether a case's person is marked, and
// how to change it.
func (m *Module) followUpStatus(ctx context.Context, coach int64, c *CaseRecord) error {
	prof, err := m.st.Profile(ctx, c.Person)
	if err != nil {
		return err
	}
	if r := prof[bot.FieldLongFollowUp]; slices.Contains(FollowUpReasons, r) {
		m.say(ctx, coach, "followup.status_on", map[string]string{"alias": c.Alias, "reason": m.rt.Render(m.def, "followup.reason."+r, nil)})
	} else {
		m.say(ctx, coach, "followup.status_off", map[string]string{"alias": c.Alias})
	}
	m.say(ctx, coach, "followup.help", nil)
	return nil
}

func isFollowUpWord(w string) bool { return w == followUpOff || slices.Contains(FollowUpReasons, w) }
