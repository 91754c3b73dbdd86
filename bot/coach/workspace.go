package coach

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/workspace"
)

// The coach workspace: coaches who work in the console claim, answer,
// hand over and close cases here, beside the coaches in Telegram. A case
// a console account holds has the coach value "acct:<name>" (account
// names are staff's own, not personal data of the people served), its
// relay channel is the workspace (bot.WorkspaceChannel) and its relay
// address the case alias, so the person's words land in the case's
// conversation log. The claim is the same atomic step as in Telegram, so
// one coach wins whichever place they press Claim in.

// Outcomes a coach closes a case with; they feed the programme's figures.
var Outcomes = []string{"helped", "referred", "job_found", "safe_now", "not_reachable", "declined"}

// Errors of the workspace operations.
var (
	ErrNoCase     = errors.New("no such case")
	ErrNotHolder  = errors.New("another coach holds this case")
	ErrNotOpen    = errors.New("the case is not waiting for a coach")
	ErrBadOutcome = errors.New("unknown outcome")
)

const accountPrefix = "acct:"

// accountOf returns the console account of a case's coach value, or "".
func accountOf(coach string) string {
	name, _ := strings.CutPrefix(coach, accountPrefix)
	if name == coach {
		return ""
	}
	return name
}

// caseLog is the case conversation log the module writes coaches'
// answers to.
func (m *Module) caseLog() *workspace.Log {
	return workspace.New(m.st, m.rt.Sealer(), m.now)
}

// OpenCases returns every case not yet closed, oldest first.
func (m *Module) OpenCases(ctx context.Context) ([]*CaseRecord, error) {
	aliases, err := m.st.OpenCaseAliases(ctx, 500)
	if err != nil {
		return nil, err
	}
	out := make([]*CaseRecord, 0, len(aliases))
	for _, a := range aliases {
		c, err := m.load(ctx, a)
		if err != nil {
			return nil, err
		}
		if c != nil && c.State != StateClosed {
			out = append(out, c)
		}
	}
	return out, nil
}

// Conversation opens a case's conversation, oldest first.
func (m *Module) Conversation(ctx context.Context, alias string) ([]workspace.Entry, error) {
	return m.caseLog().Read(ctx, alias)
}

// ClaimFor gives an open case to the console account; it reports false
// (and nothing changes) when someone, here or in Telegram, claimed it
// first. name is what the person is told the coach is called.
func (m *Module) ClaimFor(ctx context.Context, alias, account, name string) (bool, error) {
	c, err := m.load(ctx, alias)
	if err != nil {
		return false, err
	}
	if c == nil {
		return false, ErrNoCase
	}
	won, _, err := m.st.ClaimCase(ctx, alias, accountPrefix+account, m.now())
	if err != nil || !won {
		return false, err
	}
	if err := m.st.HoldCase(ctx, alias, accountPrefix+account); err != nil {
		return true, err
	}
	if err := m.st.SetProfile(ctx, c.Person, map[string]string{
		bot.RelayAlias: alias, bot.RelayAddress: string(m.rt.Sealer().Seal([]byte(alias))), bot.RelayChannel: bot.WorkspaceChannel,
		"coach": accountPrefix + account,
	}); err != nil {
		return true, err
	}
	m.log.Info("case claimed in the console", "event", "case_claimed", "case", alias)
	if m.cfg.Group != 0 {
		m.say(ctx, m.cfg.Group, "coach.case_claimed", map[string]string{"alias": alias, "coach": name})
	}
	return true, m.tellPerson(ctx, c.Person, "coach.claimed", map[string]string{"name": name})
}

// heldBy loads a claimed case that account holds (any case when
// override: a supervisor).
func (m *Module) heldBy(ctx context.Context, alias, account string, override bool) (*CaseRecord, error) {
	c, err := m.load(ctx, alias)
	if err != nil {
		return nil, err
	}
	if c == nil || c.State == StateClosed {
		return nil, ErrNoCase
	}
	if c.State != StateClaimed || (!override && c.Account != account) {
		return nil, ErrNotHolder
	}
	return c, nil
}

// ReplyFrom sends a console coach's words to the person on their own
// channel (protected from forwarding), and keeps them in the case's
// conversation.
func (m *Module) ReplyFrom(ctx context.Context, alias, account, name, text string, override bool) error {
	c, err := m.heldBy(ctx, alias, account, override)
	if err != nil {
		return err
	}
	if err := m.caseLog().Add(ctx, alias, workspace.Entry{At: m.now(), From: "coach", Coach: name, Text: text}); err != nil {
		return err
	}
	m.answered(ctx, alias)
	return m.tell(ctx, c.Person, bot.Outbound{Protect: true}, "coach.says", map[string]string{"name": name, "text": text})
}

// HandOverTo gives a case its holder keeps to another console account;
// the person is told, in their language, that toName goes on with them.
func (m *Module) HandOverTo(ctx context.Context, alias, from, to, toName string, override bool) error {
	c, err := m.heldBy(ctx, alias, from, override)
	if err != nil {
		return err
	}
	holder := accountPrefix + c.Account
	if c.Account == "" {
		holder, _ = m.rawCoach(ctx, alias)
	}
	moved, err := m.st.ReassignCase(ctx, alias, holder, accountPrefix+to, m.now())
	if err != nil {
		return err
	}
	if !moved {
		return ErrNotHolder
	}
	if err := m.st.SetProfile(ctx, c.Person, map[string]string{
		bot.RelayAlias: alias, bot.RelayAddress: string(m.rt.Sealer().Seal([]byte(alias))), bot.RelayChannel: bot.WorkspaceChannel,
		"coach": accountPrefix + to,
	}); err != nil {
		return err
	}
	m.log.Info("case handed over in the console", "event", "case_handover", "case", alias)
	return m.tellPerson(ctx, c.Person, "coach.handed_over", map[string]string{"name": toName})
}

// rawCoach is the case's coach value as kept.
func (m *Module) rawCoach(ctx context.Context, alias string) (string, error) {
	r, err := m.st.Case(ctx, alias)
	if err != nil || r == nil {
		return "", err
	}
	return r.Coach, nil
}

// CloseWith closes a case with an outcome: the person is told and asked
// whether it helped, as when a coach closes it in Telegram. It returns the
// case as it was, so the caller can count the outcome under the person.
func (m *Module) CloseWith(ctx context.Context, alias, account, outcome string, override bool) (*CaseRecord, error) {
	if !slices.Contains(Outcomes, outcome) {
		return nil, ErrBadOutcome
	}
	c, err := m.heldBy(ctx, alias, account, override)
	if err != nil {
		return nil, err
	}
	if err := m.st.SetCaseOutcome(ctx, alias, outcome); err != nil {
		return nil, err
	}
	c.Outcome = outcome
	return c, m.close(ctx, c, true)
}
