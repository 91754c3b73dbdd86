package coach

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/workspace"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// handleEvent carries out one coach action: a Claim press, a command, or
// words for the person whose case the coach holds.
func (m *Module) handleEvent(ctx context.Context, sealed []byte) error {
	var e event
	if err := m.rt.Sealer().OpenJSON(sealed, &e); err != nil {
		m.log.Error("coach action unreadable; dropped", "event", "coach_event_unreadable", "error", err)
		return nil
	}
	if alias, ok := strings.CutPrefix(e.Choice, "claim:"); ok {
		return m.claim(ctx, e.Coach, alias)
	}
	if e.Group || e.Text == "" {
		return nil
	}
	if !m.IsCoach(e.Coach) {
		return nil
	}
	if cmd, ok := strings.CutPrefix(e.Text, "/"); ok {
		return m.command(ctx, e.Coach, cmd)
	}
	return m.relayToPerson(ctx, e.Coach, e.Text)
}

// claim gives the case to the first coach who presses Claim; the others
// are told who has it.
func (m *Module) claim(ctx context.Context, coach int64, alias string) error {
	if !m.IsCoach(coach) {
		m.log.Warn("claim by someone not on the coach list refused", "event", "claim_refused", "case", alias)
		return nil
	}
	won, holder, err := m.st.ClaimCase(ctx, alias, m.sealID(coach), m.now())
	if err != nil {
		return err
	}
	if !won {
		m.say(ctx, coach, "coach.already_claimed", map[string]string{"alias": alias, "coach": m.name(ctx, m.openID(holder))})
		return nil
	}
	c, err := m.load(ctx, alias)
	if err != nil || c == nil {
		return err
	}
	chat := strconv.FormatInt(coach, 10)
	sealer := m.rt.Sealer()
	if err := m.st.HoldCase(ctx, alias, m.coachID(coach)); err != nil {
		return err
	}
	if err := m.st.SetProfile(ctx, c.Person, map[string]string{
		bot.RelayAlias: alias, bot.RelayAddress: string(sealer.Seal([]byte(chat))), bot.RelayChannel: "telegram",
		"coach": m.sealID(coach),
	}); err != nil {
		return err
	}
	name := m.name(ctx, coach)
	m.audit(ctx, coach, "case.claim", alias)
	m.log.Info("case claimed", "event", "case_claimed", "case", alias)
	if m.cfg.Group != 0 {
		m.say(ctx, m.cfg.Group, "coach.case_claimed", map[string]string{"alias": alias, "coach": name})
	}
	m.say(ctx, coach, "coach.you_have", map[string]string{"alias": alias, "reason": c.Reason, "lang": c.Lang, "priority": c.Priority})
	if ex := m.excerpt(ctx, alias); ex != "" {
		m.say(ctx, coach, "coach.excerpt", map[string]string{"alias": alias, "text": ex})
	}
	return m.tellPerson(ctx, c.Person, "coach.claimed", map[string]string{"name": name})
}

// excerpt returns the case's excerpt while it has not expired.
func (m *Module) excerpt(ctx context.Context, alias string) string {
	raw, err := m.st.CaseExcerpt(ctx, alias)
	if err != nil || raw == nil {
		return ""
	}
	var lines []string
	if m.rt.Sealer().OpenJSON(raw, &lines) != nil {
		return ""
	}
	return strings.Join(lines, "\n")
}

// name is the display name a coach chose with /name, or a neutral default.
func (m *Module) name(ctx context.Context, coach int64) string {
	if n, err := m.st.CoachName(ctx, m.coachID(coach)); err == nil && n != "" {
		return n
	}
	return m.rt.Render(m.def, "coach.default_name", nil)
}

// tellPerson sends a message to a person in their own language.
func (m *Module) tellPerson(ctx context.Context, person, msg string, data map[string]string) error {
	return m.tell(ctx, person, bot.Outbound{}, msg, data)
}

// tell sends the message msg, rendered in the person's language, with
// out's delivery flags.
func (m *Module) tell(ctx context.Context, person string, out bot.Outbound, msg string, data map[string]string) error {
	prof, err := m.st.Profile(ctx, person)
	if err != nil {
		return err
	}
	out.Text = m.rt.Render(m.rt.Language(prof), msg, data)
	out.Purpose = "coach" // a WhatsApp template outside the reply window
	_, err = m.rt.SendTo(ctx, person, []bot.Outbound{out})
	return err
}

// held returns the case a coach holds: alias, or the coach's current one.
func (m *Module) held(ctx context.Context, coach int64, alias string) (*CaseRecord, bool) {
	if alias == "" {
		alias, _ = m.st.CoachCase(ctx, m.coachID(coach))
	}
	if alias == "" {
		return nil, false
	}
	c, err := m.load(ctx, strings.ToUpper(alias))
	if err != nil || c == nil || c.State != StateClaimed || (c.Coach != coach && !m.isSupervisor(coach)) {
		return c, false
	}
	return c, true
}

// holding is held, telling the coach when they hold no such case.
func (m *Module) holding(ctx context.Context, coach int64, alias string) (*CaseRecord, bool) {
	c, ok := m.held(ctx, coach, alias)
	if !ok {
		m.say(ctx, coach, "coach.no_case", nil)
	}
	return c, ok
}

// relayToPerson passes a coach's words to the person on their own channel.
func (m *Module) relayToPerson(ctx context.Context, coach int64, text string) error {
	c, ok := m.holding(ctx, coach, "")
	if !ok {
		return nil
	}
	m.answered(ctx, c.Alias)
	if err := m.caseLog().Add(ctx, c.Alias, workspace.Entry{At: m.now(), From: "coach", Coach: m.name(ctx, coach), Text: text}); err != nil {
		return err // tried again: nothing was sent yet
	}
	// A coach's words cannot be forwarded or saved from the person's chat.
	return m.tell(ctx, c.Person, bot.Outbound{Protect: true}, "coach.says", map[string]string{"name": m.name(ctx, coach), "text": text})
}

func (m *Module) command(ctx context.Context, coach int64, line string) error {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	cmd, _, _ = strings.Cut(cmd, "@")
	arg = strings.TrimSpace(arg)
	switch strings.ToLower(cmd) {
	case "name":
		if arg == "" || utf8.RuneCountInString(arg) > 30 {
			m.say(ctx, coach, "coach.name_help", nil)
			return nil
		}
		if err := m.st.SetCoachName(ctx, m.coachID(coach), arg); err != nil {
			return err // the action is tried again
		}
		m.say(ctx, coach, "coach.name_set", map[string]string{"name": arg})
	case "case":
		c, ok := m.holding(ctx, coach, arg)
		if !ok {
			return nil
		}
		if err := m.st.SetCoachCase(ctx, m.coachID(coach), c.Alias); err != nil {
			return err
		}
		m.say(ctx, coach, "coach.switched", map[string]string{"alias": c.Alias})
	case "close":
		c, ok := m.holding(ctx, coach, arg)
		if !ok {
			return nil
		}
		m.audit(ctx, coach, "case.close", c.Alias)
		return m.close(ctx, c, true)
	case "handover":
		c, ok := m.holding(ctx, coach, arg)
		if !ok {
			return nil
		}
		m.audit(ctx, coach, "case.handover", c.Alias)
		return m.handover(ctx, c)
	case "cases":
		return m.listCases(ctx, coach)
	case "followup":
		return m.followUp(ctx, coach, arg)
	case "cadence":
		alias, cadence, _ := strings.Cut(arg, " ")
		c, ok := m.held(ctx, coach, alias)
		if !ok || m.cfg.SetCadence == nil {
			m.say(ctx, coach, "coach.no_case", nil)
			return nil
		}
		if err := m.cfg.SetCadence(ctx, c.Person, strings.TrimSpace(cadence)); err != nil {
			m.say(ctx, coach, "coach.cadence_help", nil)
			return nil
		}
		m.audit(ctx, coach, "cadence."+strings.TrimSpace(cadence), c.Alias)
		m.say(ctx, coach, "coach.cadence_set", map[string]string{"alias": c.Alias, "cadence": strings.TrimSpace(cadence)})
	default:
		m.say(ctx, coach, "coach.help", nil)
	}
	return nil
}

// close ends a case: the person is told and asked whether it helped, the
// bot takes the conversation back, and the case keeps only its reason and
// timings.
func (m *Module) close(ctx context.Context, c *CaseRecord, tell bool) error {
	holder := ""
	switch {
	case c.Coach != 0:
		holder = m.coachID(c.Coach)
	case c.Account != "":
		holder = accountPrefix + c.Account
	}
	if err := m.st.CloseCase(ctx, c.Alias, holder, m.now()); err != nil {
		return err
	}
	m.log.Info("case closed", "event", "case_closed", "case", c.Alias)
	if c.Person != "" {
		if err := m.st.SetProfile(ctx, c.Person, map[string]string{bot.RelayAlias: "", bot.RelayAddress: "", bot.RelayChannel: "", "case": ""}); err != nil {
			return err
		}
		if tell {
			if err := m.tellPerson(ctx, c.Person, "coach.closed", nil); err != nil {
				return err
			}
			if err := m.rt.Trigger(ctx, c.Person, m.cfg.Feedback, "feedback-"+c.Alias); err != nil {
				return err
			}
		}
	}
	if c.Coach != 0 {
		m.say(ctx, c.Coach, "coach.closed_for_coach", map[string]string{"alias": c.Alias})
	}
	if m.cfg.Group != 0 {
		m.say(ctx, m.cfg.Group, "coach.case_closed", map[string]string{"alias": c.Alias})
	}
	return nil
}

// handover gives a claimed case back to the group: a coach who leaves, or
// a supervisor moving it.
func (m *Module) handover(ctx context.Context, c *CaseRecord) error {
	if err := m.st.HandOverCase(ctx, c.Alias, m.coachID(c.Coach), m.now().Add(m.cfg.Reannounce[c.Priority])); err != nil {
		return err
	}
	if err := m.st.SetProfile(ctx, c.Person, map[string]string{bot.RelayAlias: "", bot.RelayAddress: "", bot.RelayChannel: "", "coach": ""}); err != nil {
		return err
	}
	c.State = StateOpen
	m.log.Info("case handed over", "event", "case_handover", "case", c.Alias)
	return m.announce(ctx, c, "coach.case_handover")
}

func (m *Module) listCases(ctx context.Context, coach int64) error {
	aliases, err := m.st.OpenCaseAliases(ctx, 50)
	if err != nil {
		return err
	}
	if len(aliases) == 0 {
		m.say(ctx, coach, "coach.no_open_cases", nil)
		return nil
	}
	var lines []string
	for _, a := range aliases {
		if c, err := m.load(ctx, a); err == nil && c != nil {
			lines = append(lines, m.alert(c, "coach.case_line"))
		}
	}
	return m.send(ctx, coach, strings.Join(lines, "\n"), false, "")
}

// Effect is a bot.EffectHandler: when a person with a case stops or erases
// their data, the case closes and the coach is told, without a word to the
// person (who asked for silence).
func (m *Module) Effect(ctx context.Context, person string, profile map[string]string, e flows.Effect) {
	if e.Kind != flows.EffectStop && e.Kind != flows.EffectDelete {
		return
	}
	if e.Kind == flows.EffectDelete {
		// Every conversation of the person's cases goes with the rest of
		// their data, the open case's and the closed ones'.
		for _, a := range strings.Split(profile["cases"], ",") {
			if a == "" {
				continue
			}
			if err := m.st.DeleteCaseLog(ctx, a); err != nil {
				m.log.Warn("case conversation not erased", "event", "case_log_erase_failed", "case", a, "error", err)
			}
		}
	}
	alias := profile["case"]
	if alias == "" {
		return
	}
	c, err := m.load(ctx, alias)
	if err != nil || c == nil || c.State == StateClosed {
		return
	}
	if c.Coach != 0 {
		m.say(ctx, c.Coach, "coach.person_left", map[string]string{"alias": alias})
	}
	if e.Kind == flows.EffectDelete {
		c.Person = "" // already erased
		// The conversation goes with the rest of the person's data.
		if err := m.st.DeleteCaseLog(ctx, alias); err != nil {
			m.log.Warn("case conversation not erased", "event", "case_log_erase_failed", "case", alias, "error", err)
		}
	}
	if err := m.close(ctx, c, false); err != nil {
		m.log.Warn("case not closed", "event", "case_close_failed", "case", alias, "error", err)
	}
}

// FireTimers fires every case timer due by now, each exactly once across
// processes (they are taken out of Redis atomically before firing). It
// returns how many fired.
func (m *Module) FireTimers(ctx context.Context, now time.Time) (int, error) {
	due, err := m.st.DueCaseTimers(ctx, now)
	if err != nil {
		return 0, err
	}
	for _, t := range due {
		// A timer is removed only after it fired (or found nothing to do):
		// one whose firing fails stays, and fires again after its lease.
		if err := m.fire(ctx, t); err != nil {
			m.log.Warn("case timer failed; it fires again later", "event", "case_timer_failed", "case", t.Alias, "error", err)
			continue
		}
		if err := m.st.DoneCaseTimer(ctx, t); err != nil {
			m.log.Warn("fired case timer not removed; it may fire again", "event", "case_timer_done_failed", "case", t.Alias, "error", err)
		}
	}
	return len(due), nil
}

// fire carries out one case timer.
func (m *Module) fire(ctx context.Context, t store.CaseTimer) error {
	c, err := m.load(ctx, t.Alias)
	if err != nil {
		return err
	}
	if c != nil && t.Kind == store.TimerAnswer && c.State == StateClaimed {
		return m.checkAnswer(ctx, c)
	}
	if c == nil || c.State != StateOpen {
		return nil
	}
	switch t.Kind {
	case store.TimerGroup:
		err = m.announce(ctx, c, "coach.case_new")
	case store.TimerReannounce:
		err = m.announce(ctx, c, "coach.case_again")
		for _, s := range m.cfg.Supervisors {
			m.say(ctx, s, "coach.case_unclaimed", map[string]string{"alias": c.Alias, "priority": c.Priority, "reason": c.Reason})
		}
		m.log.Info("unclaimed case raised", "event", "case_raised", "case", c.Alias, "priority", c.Priority)
	}
	return err
}

// audit records a coach's action under the coach's pseudonym.
func (m *Module) audit(ctx context.Context, coach int64, action, target string) {
	actor := "coach:" + m.rt.Sealer().PersonID("coach", strconv.FormatInt(coach, 10))
	if err := m.st.Audit(ctx, m.now(), actor, action, target); err != nil {
		m.log.Error("audit entry not written", "event", "audit_failed", "error", err)
	}
}
