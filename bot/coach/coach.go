package coach

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// Sender sends to a Telegram chat (the Telegram adapter).
type Sender interface {
	Send(ctx context.Context, address string, msg bot.Outbound) (int64, error)
}

// Config wires the coach module.
type Config struct {
	Runtime *runner.Runtime
	// Telegram sends to the coaches' group and to coaches' private chats.
	Telegram Sender
	// Group is the coaches' group chat id (COACH_CHAT_ID).
	Group int64
	// Coaches may claim and relay (COACH_TELEGRAM_IDS); Supervisors are
	// told of cases nobody claimed (COACH_SUPERVISOR_IDS).
	Coaches, Supervisors []int64
	// Hours are when coaches answer (COACH_HOURS).
	Hours Hours
	// Reannounce is how long a case may wait unclaimed before it is
	// announced again and raised to the supervisors, by priority.
	Reannounce map[string]time.Duration
	// TrustedFirst is how long the coach who last helped the person has
	// the case alone before the whole group is told.
	TrustedFirst time.Duration
	// ExcerptTTL is how long a case keeps its excerpt (default 30 days).
	ExcerptTTL time.Duration
	// SetCadence, when set, serves /cadence ALIAS weekly|biweekly|monthly|pause.
	SetCadence func(ctx context.Context, person, cadence string) error
	// SetFollowUp, when set, serves /followup (followup.go): it marks a
	// person for long follow-up with a reason, or clears it with "off", and
	// reports whether check-ins are scheduled for them.
	SetFollowUp func(ctx context.Context, person, reason string) (scheduled bool, err error)
	// Feedback is the flow started for the person when a case closes.
	Feedback string
	Clock    func() time.Time
	Log      *slog.Logger
	Consumer string
}

// Defaults.
var DefaultReannounce = map[string]time.Duration{
	flows.PriorityUrgent: 5 * time.Minute,
	flows.PriorityNormal: 30 * time.Minute,
	flows.PriorityLow:    4 * time.Hour,
}

const (
	DefaultTrustedFirst = 5 * time.Minute
	DefaultExcerptTTL   = 30 * 24 * time.Hour
	FeedbackFlow        = "case_feedback"
)

// Case states.
const (
	StateOpen    = store.CaseOpen
	StateClaimed = store.CaseClaimed
	StateClosed  = store.CaseClosed
)

// Module is the coach side of Lifeline.
type Module struct {
	cfg   Config
	rt    *runner.Runtime
	st    *store.Store
	log   *slog.Logger
	now   func() time.Time
	cases *store.Queue
	inbox *store.Queue
	def   string // the coaches' language
	mu    sync.Mutex
}

// New builds the module.
func New(cfg Config) *Module {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Reannounce == nil {
		cfg.Reannounce = maps.Clone(DefaultReannounce) // never share the default map
	}
	if cfg.TrustedFirst == 0 {
		cfg.TrustedFirst = DefaultTrustedFirst
	}
	if cfg.ExcerptTTL == 0 {
		cfg.ExcerptTTL = DefaultExcerptTTL
	}
	if cfg.Feedback == "" {
		cfg.Feedback = FeedbackFlow
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "coach-" + randomAlias(8)
	}
	st := cfg.Runtime.Store()
	return &Module{
		cfg: cfg, rt: cfg.Runtime, st: st, log: cfg.Log, now: cfg.Clock,
		cases: st.CaseQueue(),
		inbox: st.CoachQueue(),
		def:   cfg.Runtime.Content().Catalog.Default(),
	}
}

// IsCoach reports whether a Telegram user may act as a coach.
func (m *Module) IsCoach(id int64) bool {
	return slices.Contains(m.cfg.Coaches, id) || slices.Contains(m.cfg.Supervisors, id)
}

func (m *Module) isSupervisor(id int64) bool { return slices.Contains(m.cfg.Supervisors, id) }

// event is one thing a coach did, as recorded on the coach stream.
type event struct {
	Coach  int64  `json:"coach"`
	Text   string `json:"text,omitempty"`
	Choice string `json:"choice,omitempty"`
	Group  bool   `json:"group,omitempty"`
}

// Receiver wraps the runtime's: messages from coaches' private chats go to
// the coach module, everything else to the runtime.
func (m *Module) Receiver(next bot.Receiver) bot.Receiver { return receiver{m: m, next: next} }

type receiver struct {
	m    *Module
	next bot.Receiver
}

func (r receiver) Accept(ctx context.Context, in bot.Inbound) error {
	if in.Channel == "telegram" {
		if id, err := strconv.ParseInt(in.Address, 10, 64); err == nil && r.m.IsCoach(id) {
			return r.m.record(ctx, in.MessageID, event{Coach: id, Text: in.Text, Choice: in.Choice})
		}
	}
	return r.next.Accept(ctx, in)
}

// Group handles an update from a group chat (the Telegram adapter's Group
// hook): Claim presses in the coaches' group.
func (m *Module) Group(ctx context.Context, u *models.Update) error {
	cq := u.CallbackQuery
	if cq == nil {
		return nil // group chatter is not for the bot
	}
	parts := strings.SplitN(cq.Data, ":", 3)
	if len(parts) != 3 {
		return nil
	}
	return m.record(ctx, "u"+strconv.FormatInt(u.ID, 10), event{Coach: cq.From.ID, Choice: parts[2], Group: true})
}

// record keeps a coach's action durably, once per platform id.
func (m *Module) record(ctx context.Context, id string, e event) error {
	return m.st.RecordCoachAction(ctx, id, m.rt.Sealer().SealJSON(e))
}

// Run handles escalations, coaches' actions and timers until ctx ends.
func (m *Module) Run(ctx context.Context) error {
	for _, q := range []*store.Queue{m.cases, m.inbox} {
		if err := q.Ensure(ctx); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, loop := range []struct {
		q *store.Queue
		f func(context.Context, []byte) error
	}{{m.cases, m.handleCase}, {m.inbox, m.handleEvent}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.consume(ctx, loop.q, loop.f)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = bot.Every(ctx, time.Second, func() error {
			if _, err := m.FireTimers(ctx, m.now()); err != nil && ctx.Err() == nil {
				m.log.Warn("case timers failed", "event", "case_timers_failed", "error", err)
			}
			return nil
		})
	}()
	wg.Wait()
	return nil
}

func (m *Module) consume(ctx context.Context, q *store.Queue, f func(context.Context, []byte) error) {
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		var es []store.Entry
		var err error
		if time.Since(lastClaim) > 3*time.Second {
			lastClaim = time.Now()
			es, err = q.Claim(ctx, m.cfg.Consumer, 10*time.Second, 32)
		}
		if err == nil && len(es) == 0 {
			es, err = q.Read(ctx, m.cfg.Consumer, 32, 2*time.Second)
		}
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("coach queue read failed", "event", "queue_read_failed", "queue", q.Name(), "error", err)
				time.Sleep(time.Second)
			}
			continue
		}
		for _, e := range es {
			// Handlers are idempotent (a case opens once, an announcement
			// is recorded when made): try again at once a few times, then
			// leave the entry to be claimed again after 10 s idle.
			err := f(ctx, e.Payload)
			for delay := 200 * time.Millisecond; err != nil && delay <= 2*time.Second && ctx.Err() == nil; delay *= 2 {
				bot.Sleep(ctx, delay)
				err = f(ctx, e.Payload)
			}
			if err != nil {
				m.log.Warn("coach work left for retry", "event", "coach_retry_later", "queue", q.Name(), "error", err)
				continue
			}
			if err := q.Done(ctx, e); err != nil {
				m.log.Warn("ack failed", "event", "queue_ack_failed", "queue", q.Name(), "error", err)
			}
		}
	}
}

// Process handles everything waiting on both streams once (for tests and
// tools); Run does the same continuously.
func (m *Module) Process(ctx context.Context) error {
	for _, q := range []*store.Queue{m.cases, m.inbox} {
		if err := q.Ensure(ctx); err != nil {
			return err
		}
	}
	for _, loop := range []struct {
		q *store.Queue
		f func(context.Context, []byte) error
	}{{m.cases, m.handleCase}, {m.inbox, m.handleEvent}} {
		for {
			es, err := loop.q.Read(ctx, m.cfg.Consumer, 32, -1)
			if err != nil {
				return err
			}
			if len(es) == 0 {
				break
			}
			for _, e := range es {
				if err := loop.f(ctx, e.Payload); err != nil {
					return err
				}
				if err := loop.q.Done(ctx, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// coachID is the pseudonym a coach's own record is kept under: no
// Telegram id in key names.
func (m *Module) coachID(id int64) string {
	return m.rt.Sealer().PersonID("coach", strconv.FormatInt(id, 10))
}

// sealID and openID keep Telegram ids encrypted at rest.
func (m *Module) sealID(id int64) string {
	return string(m.rt.Sealer().Seal([]byte(strconv.FormatInt(id, 10))))
}

func (m *Module) openID(s string) int64 {
	if s == "" {
		return 0
	}
	plain, err := m.rt.Sealer().Open([]byte(s))
	if err != nil {
		return 0
	}
	id, _ := strconv.ParseInt(string(plain), 10, 64)
	return id
}

// CaseRecord is a case as the coach module sees it: the store's record
// with the coach's Telegram id opened.
type CaseRecord struct {
	store.CaseRecord
	// Coach is the Telegram id of the coach holding the case (0 for none);
	// the store's record keeps it sealed.
	Coach int64
	// Account is the console account holding the case ("" when nobody
	// does, or a Telegram coach: Coach).
	Account string
}

func (m *Module) load(ctx context.Context, alias string) (*CaseRecord, error) {
	r, err := m.st.Case(ctx, alias)
	if err != nil || r == nil {
		return nil, err
	}
	return &CaseRecord{CaseRecord: *r, Coach: m.openID(r.Coach), Account: accountOf(r.Coach)}, nil
}

// Case returns a case by alias (nil if none).
func (m *Module) Case(ctx context.Context, alias string) (*CaseRecord, error) {
	return m.load(ctx, strings.ToUpper(alias))
}

var rank = map[string]int{flows.PriorityLow: 0, flows.PriorityNormal: 1, flows.PriorityUrgent: 2}

// handleCase opens a case for an escalation, or raises the person's open
// case when they already have one.
func (m *Module) handleCase(ctx context.Context, sealed []byte) error {
	c, err := m.rt.OpenCase(sealed)
	if err != nil {
		m.log.Error("case unreadable; dropped", "event", "case_unreadable", "error", err)
		return nil
	}
	now := m.now()
	prof, err := m.st.Profile(ctx, c.Person)
	if err != nil {
		return err
	}
	if alias := prof["case"]; alias != "" {
		if open, err := m.load(ctx, alias); err == nil && open != nil && open.State != StateClosed {
			if v := joinValues(open.Value, c.Value); v != open.Value {
				// The card lists every indicator the escalations named.
				if err := m.st.SetCaseValue(ctx, alias, v); err != nil {
					return err
				}
				open.Value = v
			}
			if open.State == StateClaimed && alarmed(c.Reason, c.Priority) {
				if err := m.alarm(ctx, open, c.Reason, prof); err != nil {
					return err
				}
			}
			if rank[c.Priority] > rank[open.Priority] {
				if err := m.st.SetCasePriority(ctx, alias, c.Priority); err != nil {
					return err
				}
				open.Priority = c.Priority
				if open.State == StateOpen {
					return m.announce(ctx, open, "coach.case_raised")
				}
			}
			if open.State == StateOpen && open.Announced.IsZero() {
				// Opened by an earlier try whose announcement failed.
				return m.announceNew(ctx, open, m.openID(prof["coach"]))
			}
			m.log.Info("escalation joined the open case", "event", "case_joined", "case", alias, "reason", c.Reason)
			return nil
		}
	}
	alias, err := m.newAlias(ctx)
	if err != nil {
		return err
	}
	opened := store.CaseRecord{Alias: alias, Person: c.Person, Reason: c.Reason, Priority: c.Priority,
		Value: c.Value, Lang: c.Lang, Channel: c.Channel, Opened: now, PersonCases: addAlias(prof["cases"], alias)}
	var excerpt []byte
	if len(c.Excerpt) > 0 {
		excerpt = m.rt.Sealer().SealJSON(c.Excerpt)
	}
	timers := []store.CaseTimer{{Alias: alias, Kind: store.TimerReannounce, At: now.Add(m.cfg.Reannounce[c.Priority])}}
	// One trusted coach: the coach who last helped is asked first, and
	// the whole group a little later.
	trusted := m.openID(prof["coach"])
	if trusted != 0 && slices.Contains(m.cfg.Coaches, trusted) {
		wait := m.cfg.TrustedFirst
		if c.Priority == flows.PriorityUrgent {
			wait = min(wait, time.Minute)
		}
		timers = append(timers, store.CaseTimer{Alias: alias, Kind: store.TimerGroup, At: now.Add(wait)})
	} else {
		trusted = 0
	}
	if err := m.st.OpenCase(ctx, opened, excerpt, m.cfg.ExcerptTTL, timers...); err != nil {
		return err
	}
	rec := &CaseRecord{CaseRecord: opened}
	rec.State = StateOpen
	m.log.Info("case opened", "event", "case_opened", "case", alias, "reason", c.Reason, "priority", c.Priority)
	if !m.cfg.Hours.Open(now) {
		m.tellOutOfHours(ctx, c.Person, prof, now)
	}
	return m.announceNew(ctx, rec, trusted)
}

// announceNew tells coaches of a new case — the trusted coach first when
// there is one — and records that it did, so a retry after a failure
// (the error leaves the escalation to be handled again) announces it then.
func (m *Module) announceNew(ctx context.Context, c *CaseRecord, trusted int64) error {
	var err error
	if trusted != 0 && slices.Contains(m.cfg.Coaches, trusted) {
		err = m.sendCoach(ctx, trusted, m.alert(c, "coach.case_for_you"), true, c.Alias)
	} else {
		err = m.announce(ctx, c, "coach.case_new")
	}
	if err != nil {
		return err
	}
	return m.st.MarkCaseAnnounced(ctx, c.Alias, m.now())
}

// tellOutOfHours tells the person when to expect an answer and gives the
// emergency numbers at once.
func (m *Module) tellOutOfHours(ctx context.Context, person string, prof map[string]string, now time.Time) {
	hours := int(m.cfg.Hours.NextOpen(now).Sub(now).Hours() + 0.99)
	lang := m.rt.Language(prof)
	text, err := m.rt.Content().Catalog.Plural(lang, "coach.out_of_hours", hours, m.rt.Content().DataFor(lang))
	if err != nil {
		m.log.Warn("message rendered with a problem", "event", "render_problem", "message_id", "coach.out_of_hours", "error", err)
	}
	if _, err := m.rt.SendTo(ctx, person, []bot.Outbound{{Text: text}}); err != nil {
		m.log.Warn("out-of-hours notice not sent", "event", "out_of_hours_failed", "error", err)
	}
}

// joinValues adds the comma-separated ids of add to those of have, each
// once.
func joinValues(have, add string) string {
	var ids []string
	for _, id := range strings.Split(have+","+add, ",") {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ",")
}

// alert is a case as coaches see it: alias, priority, reason with its
// value (indicator ids such as movement or threats, a job id), language
// and age — never the person's words, name, number, account or chat.
func (m *Module) alert(c *CaseRecord, msg string) string {
	ago := m.now().Sub(c.Opened).Round(time.Minute)
	reason := c.Reason
	if c.Value != "" {
		reason += " (" + strings.ReplaceAll(c.Value, ",", ", ") + ")"
	}
	return m.rt.Render(m.def, msg, map[string]string{
		"alias": c.Alias, "priority": c.Priority, "reason": reason, "lang": c.Lang,
		"ago": strconv.Itoa(int(ago.Minutes())), "channel": c.Channel,
	})
}

func (m *Module) announce(ctx context.Context, c *CaseRecord, msg string) error {
	if m.cfg.Group == 0 {
		m.log.Warn("no coaches' group configured; case not announced", "event", "case_not_announced", "case", c.Alias)
		return nil
	}
	return m.send(ctx, m.cfg.Group, m.alert(c, msg), true, c.Alias)
}

func (m *Module) sendCoach(ctx context.Context, coach int64, text string, claim bool, alias string) error {
	return m.send(ctx, coach, text, claim, alias)
}

func (m *Module) send(ctx context.Context, chat int64, text string, claim bool, alias string) error {
	msg := bot.Outbound{Text: text}
	if claim {
		msg.Options = []bot.OutOption{{ID: "claim:" + alias, Label: m.rt.Render(m.def, "coach.claim", nil)}}
	}
	if m.cfg.Telegram == nil || chat == 0 {
		return nil // coaches work in the console only
	}
	_, err := m.cfg.Telegram.Send(ctx, strconv.FormatInt(chat, 10), msg)
	if err != nil {
		var se *bot.SendError
		if errors.As(err, &se) && !se.Retryable {
			m.log.Warn("coach message refused", "event", "coach_send_refused", "code", se.Code)
			return nil
		}
	}
	return err
}

func (m *Module) say(ctx context.Context, chat int64, msg string, data map[string]string) {
	if err := m.send(ctx, chat, m.rt.Render(m.def, msg, data), false, ""); err != nil {
		m.log.Warn("coach message not sent", "event", "coach_send_failed", "error", err)
	}
}

// addAlias adds alias to a comma-separated list of the last 20 cases.
func addAlias(list, alias string) string {
	var out []string
	for _, a := range strings.Split(list, ",") {
		if a != "" && a != alias {
			out = append(out, a)
		}
	}
	out = append(out, alias)
	if len(out) > 20 {
		out = out[len(out)-20:]
	}
	return strings.Join(out, ",")
}

const aliasLetters = "ACDEFGHJKMNPQRTUVWXY34679"

func randomAlias(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = aliasLetters[int(b[i])%len(aliasLetters)]
	}
	return string(b)
}

// newAlias reserves a short, unambiguous case alias such as K7Q.
func (m *Module) newAlias(ctx context.Context) (string, error) {
	for n := 3; n < 8; n++ {
		for range 10 {
			a := randomAlias(n)
			ok, err := m.st.ReserveCaseAlias(ctx, a)
			if err != nil {
				return "", err
			}
			if ok {
				return a, nil
			}
		}
	}
	return "", fmt.Errorf("no free case alias")
}

// MessageIDs are the message ids this package renders, for content checks.
var MessageIDs = []string{
	"coach.claimed", "coach.says", "coach.closed", "coach.default_name", "coach.out_of_hours",
	"coach.claim", "coach.case_new", "coach.case_for_you", "coach.case_again", "coach.case_raised",
	"coach.case_handover", "coach.case_line", "coach.case_unclaimed", "coach.case_claimed", "coach.case_closed",
	"coach.already_claimed", "coach.you_have", "coach.excerpt", "coach.closed_for_coach", "coach.person_left",
	"coach.no_case", "coach.no_open_cases", "coach.switched", "coach.name_help", "coach.name_set",
	"coach.cadence_help", "coach.cadence_set", "coach.help", "coach.relay_alarm", "coach.relay_alarm_raised",
}
