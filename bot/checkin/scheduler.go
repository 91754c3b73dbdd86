package checkin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// Flow ids the scheduler starts.
const (
	FlowCheckin  = "checkin"
	FlowReminder = "checkin_reminder"
	// Topic is the subscription topic of check-ins.
	Topic = "checkins"
)

// Escalation reasons and priority the scheduler itself uses.
const (
	ReasonMissed = "checkin_missed"
)

// Config wires a Scheduler.
type Config struct {
	// Runtime starts the check-in flows and owns the store.
	Runtime *runner.Runtime
	// Quiet are the quiet hours (QUIET_HOURS), in each person's time zone.
	Quiet bot.QuietHours
	// DefaultTZ is assumed for a person who chose no time zone
	// (DEFAULT_TIMEZONE); UTC when nil.
	DefaultTZ *time.Location
	// Clock tells the time; time.Now when nil.
	Clock func() time.Time
	// Escalate opens a case for a coach (welfare checks after missed
	// check-ins). When nil the runtime records the case (Runtime.Escalate).
	Escalate func(ctx context.Context, person, reason, priority string)
	// Cadence is the schedule; the shipped one when nil (see LoadCadence
	// for CONTENT_DIR/cadence.yaml).
	Cadence *Cadence
	// Log receives ids and event names only; slog.Default when nil.
	Log *slog.Logger
	// Poll is how often Run looks for due items (default 5s).
	Poll time.Duration
}

// Scheduler schedules, fires and counts check-ins. It is safe for
// concurrent use, and any number of processes may run one on the same
// Redis.
type Scheduler struct {
	cfg     Config
	rt      *runner.Runtime
	st      *store.Store
	cad     *Cadence
	log     *slog.Logger
	now     func() time.Time
	trigger func(ctx context.Context, person, flow, id string) error
}

// New builds a Scheduler.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.DefaultTZ == nil {
		cfg.DefaultTZ = time.UTC
	}
	if cfg.Cadence == nil {
		cfg.Cadence = DefaultCadence()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	return &Scheduler{
		cfg: cfg, rt: cfg.Runtime, st: cfg.Runtime.Store(), cad: cfg.Cadence, log: cfg.Log, now: cfg.Clock,
		trigger: cfg.Runtime.Trigger,
	}
}

// Profile fields the scheduler keeps in a person's own profile. They go
// with the profile when the person deletes their data.
const (
	fStart     = "ci.start"    // civil date the person agreed (YYYY-MM-DD)
	fN         = "ci.n"        // index of the next check-in in the schedule
	fDue       = "ci.due"      // unix ms of the next check-in
	fRm        = "ci.rm"       // unix ms of the pending reminder
	fCl        = "ci.cl"       // unix ms when the last check-in counts as missed
	fF3        = "ci.f3"       // unix ms of the 3-month "still working" look
	fF6        = "ci.f6"       // unix ms of the 6-month look
	fCad       = "ci.cad"      // coach's fixed cadence: weekly, biweekly, monthly
	fCadFrom   = "ci.cad_from" // civil date the fixed cadence counts from
	fPaused    = "ci.paused"   // "1" while paused
	fTime      = "ci.time"     // morning, afternoon or evening
	fPending   = "ci.pending"  // id of the last check-in sent
	fAnswered  = "ci.answered" // id of the last check-in answered
	fMisses    = "ci.misses"   // missed check-ins in a row
	fWork      = "ci.work"     // last work answer
	fFirstWork = "ci.first_work"
	fWeek      = "ci.week"    // last ISO week counted as active
	fDropped   = "ci.dropped" // "1" once counted as a dropout
	fTZ        = "tz"         // IANA time zone the person chose
	fGender    = "gender"
	fAge       = "age"
)

// Item kinds in the due set, with the profile field holding each's time.
var kinds = []struct{ kind, field string }{
	{"ci", fDue}, {"rm", fRm}, {"cl", fCl}, {"f3", fF3}, {"f6", fF6},
}

func kindField(kind string) string {
	for _, k := range kinds {
		if k.kind == kind {
			return k.field
		}
	}
	return ""
}

// loc is the person's time zone.
func (s *Scheduler) loc(p map[string]string) *time.Location {
	return bot.Location(p[fTZ], s.cfg.DefaultTZ)
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func fromMS(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || v == "" {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}

func parseDate(v string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, v)
	return t, err == nil
}

// subscribed reports whether check-ins may be scheduled for the person.
func subscribed(p map[string]string) bool {
	return p["sub."+Topic] == "1" && p["stopped"] != "1"
}

// plan finds the next check-in at or after schedule index minN that falls
// after now: its index and when to send it (moved out of quiet hours).
func (s *Scheduler) plan(p map[string]string, minN int, now time.Time) (int, time.Time, bool) {
	loc := s.loc(p)
	start, ok := parseDate(p[fStart])
	if !ok {
		start = day(now, loc)
	}
	var dates []time.Time
	long := p[fLong] != ""
	if span, ok := overrides[p[fCad]]; ok {
		base, ok := parseDate(p[fCadFrom])
		if !ok {
			base = start
		}
		dates = overrideDates(base, span, s.cad.End(start, long))
	} else {
		dates = s.cad.Dates(start, long)
	}
	minute := s.cad.Minutes(p[fTime])
	for i := max(minN, 1); i <= len(dates); i++ {
		t := at(dates[i-1], minute, loc)
		if t.After(now) {
			return i, s.cfg.Quiet.Next(t, loc), true
		}
	}
	return 0, time.Time{}, false
}

// replan sets the next check-in fields in set (merged over p) from index
// minN, or clears them when no check-in is due (not subscribed, paused,
// schedule over).
func (s *Scheduler) replan(p, set map[string]string, minN int, now time.Time) {
	m := merged(p, set)
	if !subscribed(m) || m[fPaused] == "1" || m[fStart] == "" {
		set[fDue], set[fN] = "", ""
		return
	}
	n, due, ok := s.plan(m, minN, now)
	if !ok {
		set[fDue], set[fN] = "", ""
		return
	}
	set[fN], set[fDue] = strconv.Itoa(n), ms(due)
}

func merged(p, set map[string]string) map[string]string {
	m := make(map[string]string, len(p)+len(set))
	for k, v := range p {
		m[k] = v
	}
	for k, v := range set {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func atoi(v string) int { n, _ := strconv.Atoi(v); return n }

// update changes a person's profile atomically and brings their items in
// the due set in line with it.
func (s *Scheduler) update(ctx context.Context, person string, f func(p map[string]string) map[string]string) (map[string]string, error) {
	// The due set is written with the profile, in one transaction.
	return s.st.UpdateProfileSchedule(ctx, person, func(p map[string]string) (map[string]string, error) { return f(p), nil }, dueItems)
}

// dueItems are the person's pending items, at the times their profile
// says (none for an empty profile).
func dueItems(p map[string]string) []store.CheckinItem {
	items := make([]store.CheckinItem, 0, len(kinds))
	for _, k := range kinds {
		it := store.CheckinItem{Kind: k.kind}
		if t, ok := fromMS(p[k.field]); ok {
			it.Due = t
		}
		items = append(items, it)
	}
	return items
}

// sync makes the due set hold exactly the person's pending items, at the
// times their profile says. An empty profile removes them all.
func (s *Scheduler) sync(ctx context.Context, person string, p map[string]string) error {
	if err := s.st.SetCheckinItems(ctx, person, dueItems(p)); err != nil {
		return fmt.Errorf("sync schedule: %w", err)
	}
	return nil
}

// ErrNotSubscribed means the person has not agreed to check-ins.
var ErrNotSubscribed = errors.New("person has not agreed to check-ins")

// Cadences SetCadence accepts.
var Cadences = []string{"weekly", "biweekly", "monthly", "pause", "resume", "default"}

// SetCadence changes one person's check-ins: "weekly", "biweekly" or
// "monthly" replace the tapering schedule from today; "pause" stops them
// until "resume"; "default" goes back to the tapering schedule. It is for
// a coach's command; the person pauses and resumes from the menu.
func (s *Scheduler) SetCadence(ctx context.Context, person, cadence string) error {
	if !validCadence(cadence) {
		return fmt.Errorf("unknown cadence %q (use %s)", cadence, strings.Join(Cadences, ", "))
	}
	now := s.now()
	var notSub bool
	_, err := s.update(ctx, person, func(p map[string]string) map[string]string {
		notSub = !subscribed(p) || p[fStart] == ""
		if notSub {
			return nil
		}
		set := map[string]string{}
		switch cadence {
		case "pause":
			set[fPaused], set[fDue], set[fRm], set[fCl] = "1", "", "", ""
			return set
		case "resume":
			set[fPaused] = ""
		case "default":
			set[fCad], set[fCadFrom], set[fPaused] = "", "", ""
			s.replan(p, set, 1, now)
			return set
		default:
			set[fCad], set[fCadFrom], set[fPaused] = cadence, day(now, s.loc(p)).Format(time.DateOnly), ""
			s.replan(p, set, 1, now)
			return set
		}
		s.replan(p, set, atoi(p[fN]), now)
		return set
	})
	if err == nil && notSub {
		err = ErrNotSubscribed
	}
	if err == nil {
		s.log.Info("check-in cadence set", "event", "checkin_cadence", "person", person, "cadence", cadence)
	}
	return err
}

func validCadence(c string) bool {
	for _, v := range Cadences {
		if v == c {
			return true
		}
	}
	return false
}

// Effect is a bot.EffectHandler: subscribing to and leaving check-ins
// schedules and removes them, stop, start and delete pause, resume and
// erase them, and recorded answers are counted.
func (s *Scheduler) Effect(ctx context.Context, person string, profile map[string]string, e flows.Effect) {
	var err error
	switch e.Kind {
	case flows.EffectSubscribe:
		if e.Topic == Topic {
			err = s.subscribe(ctx, person)
		}
	case flows.EffectUnsubscribe:
		if e.Topic == Topic {
			err = s.leave(ctx, person, profile, true)
		}
	case flows.EffectStop:
		err = s.leave(ctx, person, profile, false)
	case flows.EffectStart:
		_, err = s.update(ctx, person, func(p map[string]string) map[string]string {
			set := map[string]string{}
			s.replan(p, set, atoi(p[fN]), s.now())
			return set
		})
	case flows.EffectDelete:
		err = s.erase(ctx, person, profile)
	case flows.EffectRecord:
		err = s.record(ctx, person, e.Topic, e.Value)
	default:
		return
	}
	if errors.Is(err, store.ErrNoProfile) || errors.Is(err, ErrNotSubscribed) {
		return
	}
	if err != nil {
		s.log.Warn("check-in effect not applied", "event", "checkin_effect_failed", "person", person, "kind", e.Kind, "error", err)
	}
}

// subscribe starts a person's schedule from today, unless it runs already.
func (s *Scheduler) subscribe(ctx context.Context, person string) error {
	now := s.now()
	started := false
	_, err := s.update(ctx, person, func(p map[string]string) map[string]string {
		started = false
		if p[fStart] != "" && (p[fDue] != "" || p[fPaused] == "1") {
			return nil
		}
		started = true
		set := map[string]string{
			fStart: day(now, s.loc(p)).Format(time.DateOnly), fCad: "", fCadFrom: "", fPaused: "", fMisses: "",
		}
		s.replan(p, set, 1, now)
		return set
	})
	if err == nil && started {
		s.log.Info("check-ins scheduled", "event", "checkin_subscribed", "person", person)
	}
	return err
}

// leave removes a person's pending check-ins when they opt out (optOut:
// the schedule is forgotten) or stop all messages (kept for START), and
// counts them as a dropout once.
func (s *Scheduler) leave(ctx context.Context, person string, before map[string]string, optOut bool) error {
	counted := false
	p, err := s.update(ctx, person, func(p map[string]string) map[string]string {
		counted = false
		set := map[string]string{fDue: "", fRm: "", fCl: ""}
		if optOut {
			for _, f := range []string{fStart, fN, fF3, fF6, fCad, fCadFrom, fPaused} {
				set[f] = ""
			}
		}
		if before["sub."+Topic] == "1" && before["stopped"] != "1" && p[fDropped] != "1" {
			set[fDropped] = "1"
			counted = true
		}
		return set
	})
	if err != nil {
		return err
	}
	if counted {
		s.count(ctx, p, map[string]int64{mDropOptOut: 1})
		s.log.Info("check-ins left", "event", "checkin_left", "person", person)
	}
	return nil
}

// erase removes every item of a person who deleted their data; the
// profile is gone already, so the one before the turn says whether they
// were still taking part.
func (s *Scheduler) erase(ctx context.Context, person string, before map[string]string) error {
	items := make([]store.CheckinItem, 0, len(kinds))
	for _, k := range kinds {
		items = append(items, store.CheckinItem{Kind: k.kind})
	}
	if err := s.st.SetCheckinItems(ctx, person, items); err != nil {
		return fmt.Errorf("erase schedule: %w", err)
	}
	if before["sub."+Topic] == "1" && before["stopped"] != "1" && before[fDropped] != "1" {
		s.count(ctx, before, map[string]int64{mDropOptOut: 1})
	}
	return nil
}

// Answer values the figures know; others are ignored.
var (
	moods      = []string{"1", "2", "3", "4", "5"}
	workStates = []string{"working", "training", "looking", "not_looking"}
	genders    = []string{"woman", "man", "other", "undisclosed"}
	// Age bands, youngest first; "under25" was offered before "under18"
	// and "18_24" and stays valid for answers given then.
	ages = []string{"under18", "18_24", "under25", "25_34", "35_49", "50plus", "undisclosed"}
)

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// record handles an answer recorded by a flow.
func (s *Scheduler) record(ctx context.Context, person, topic, value string) error {
	now := s.now()
	switch topic {
	case "checkin.mood", "checkin.work", "checkin.problem", "checkin.contact":
		return s.answer(ctx, person, topic, value, now)
	case "checkin.pause":
		if value == "pause" || value == "resume" {
			return s.SetCadence(ctx, person, value)
		}
	case "checkin.time":
		if _, ok := s.cad.minutes[value]; !ok {
			return nil
		}
		return s.prefer(ctx, person, fTime, value)
	case "profile.tz":
		if value == "default" {
			return s.prefer(ctx, person, fTZ, "")
		}
		if _, err := time.LoadLocation(value); err != nil || value == "" || value == "Local" {
			return nil
		}
		return s.prefer(ctx, person, fTZ, value)
	case "profile.gender":
		if oneOf(value, genders) {
			_, err := s.update(ctx, person, func(map[string]string) map[string]string { return map[string]string{fGender: value} })
			return err
		}
	case "profile.age":
		if oneOf(value, ages) {
			_, err := s.update(ctx, person, func(map[string]string) map[string]string { return map[string]string{fAge: value} })
			return err
		}
	}
	return nil
}

// prefer sets a preference that moves the pending check-in (time of day,
// time zone) and reschedules it.
func (s *Scheduler) prefer(ctx context.Context, person, field, value string) error {
	now := s.now()
	_, err := s.update(ctx, person, func(p map[string]string) map[string]string {
		set := map[string]string{field: value}
		if p[fDue] != "" {
			s.replan(p, set, atoi(p[fN]), now)
		}
		return set
	})
	return err
}

// answer marks the pending check-in answered (once) and counts the answer.
func (s *Scheduler) answer(ctx context.Context, person, topic, value string, now time.Time) error {
	week := weekOf(now)
	var counts map[string]int64
	p, err := s.update(ctx, person, func(p map[string]string) map[string]string {
		counts = map[string]int64{}
		set := map[string]string{}
		if p[fPending] != "" && p[fAnswered] != p[fPending] {
			set[fAnswered], set[fMisses], set[fRm], set[fCl] = p[fPending], "", "", ""
			counts[mAnswered] = 1
			if p[fDropped] == "1" {
				set[fDropped] = ""
			}
		}
		if p[fWeek] != week {
			set[fWeek] = week
			counts[mActive] = 1
		}
		switch topic {
		case "checkin.mood":
			if oneOf(value, moods) {
				counts[mMoodN] = 1
				counts[mMoodSum] = int64(atoi(value))
			}
		case "checkin.work":
			if !oneOf(value, workStates) {
				break
			}
			set[fWork] = value
			counts[mWork+value] = 1
			if value == "working" && p[fFirstWork] == "" {
				set[fFirstWork] = ms(now)
				set[fF3] = ms(addMonths(now.UTC(), 3))
				set[fF6] = ms(addMonths(now.UTC(), 6))
				counts[mFirstWork] = 1
				if first, ok := fromMS(p["first"]); ok && !first.After(now) {
					counts[mWeeksN] = 1
					counts[mWeeksSum] = int64(now.Sub(first) / (7 * 24 * time.Hour))
				}
			}
		}
		return set
	})
	if err != nil {
		return err
	}
	s.count(ctx, p, counts)
	return nil
}

// Backfill schedules check-ins for everyone subscribed to them who has no
// schedule yet (people who agreed before this scheduler ran). It reads the
// people index and their profiles a page at a time (one round trip a
// page). It is safe to run at every start and from several processes at
// once.
func (s *Scheduler) Backfill(ctx context.Context) (int, error) {
	n := 0
	for cursor := uint64(0); ; {
		ids, next, err := s.st.ScanPeople(ctx, cursor, 200)
		if err != nil {
			return n, fmt.Errorf("backfill check-ins: %w", err)
		}
		profiles, err := s.st.Profiles(ctx, ids)
		if err != nil {
			return n, fmt.Errorf("backfill check-ins: %w", err)
		}
		for i, p := range profiles {
			if !subscribed(p) || p[fStart] != "" {
				continue
			}
			if err := s.subscribe(ctx, ids[i]); err != nil && !errors.Is(err, store.ErrNoProfile) {
				return n, err
			}
			n++
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// Run schedules anyone subscribed but not yet scheduled (Backfill), then
// fires due items every Poll until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if n, err := s.Backfill(ctx); err != nil {
		s.log.Warn("check-in backfill failed", "event", "checkin_backfill_failed", "error", err)
	} else if n > 0 {
		s.log.Info("check-ins scheduled for earlier subscribers", "event", "checkin_backfill", "count", n)
	}
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := s.FireDue(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.Warn("check-in round failed", "event", "checkin_round_failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// claimLease is how long a claimed item may take before another process
// may claim it again (after a crash); firing twice is harmless, as each
// firing checks the person's profile and triggers are idempotent.
const claimLease = 2 * time.Minute

const claimBatch = 64

// FireDue fires every item due by now and reports how many it took. Run
// calls it; tests call it with their own clock.
func (s *Scheduler) FireDue(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		res, err := s.st.ClaimCheckins(ctx, now, now.Add(claimLease), claimBatch)
		if err != nil {
			return total, err
		}
		for _, c := range res {
			if err := s.fire(ctx, c, now); err != nil {
				if ctx.Err() != nil {
					return total, ctx.Err()
				}
				// Left in flight: claimed again when the lease ends.
				s.log.Warn("check-in item left for retry", "event", "checkin_retry_later", "error", err)
				continue
			}
			total++
			if err := s.st.CheckinDone(ctx, c.Claim); err != nil {
				return total, err
			}
		}
		if len(res) < claimBatch {
			return total, nil
		}
	}
}

// fire handles one claimed item.
func (s *Scheduler) fire(ctx context.Context, c store.ClaimedCheckin, now time.Time) error {
	score, kind, person := c.Due, c.Kind, c.Person
	if person == "" || kindField(kind) == "" {
		return nil // not ours; drop it
	}
	p, err := s.st.Profile(ctx, person)
	if err != nil {
		return err
	}
	if len(p) == 0 {
		return s.sync(ctx, person, p) // erased: forget every item
	}
	if p[kindField(kind)] != score {
		return nil // moved or done since: the profile is the truth
	}
	if kind == "ci" || kind == "rm" {
		// Fired late (a process was down) into quiet hours: wait for
		// their end rather than light up a phone at night.
		loc := s.loc(p)
		if next := s.cfg.Quiet.Next(now, loc); next.After(now) {
			return s.postpone(ctx, person, kindField(kind), score, next)
		}
	}
	switch kind {
	case "ci":
		return s.fireCheckin(ctx, person, p, score, now)
	case "rm":
		return s.fireReminder(ctx, person, p, score)
	case "cl":
		return s.fireClose(ctx, person, p, score, now)
	default:
		return s.fireFollowUp(ctx, person, kind, score)
	}
}

// postpone moves a due item to a later time.
func (s *Scheduler) postpone(ctx context.Context, person, field, score string, to time.Time) error {
	_, err := s.update(ctx, person, func(q map[string]string) map[string]string {
		if q[field] != score {
			return nil
		}
		return map[string]string{field: ms(to)}
	})
	if err == nil {
		s.log.Info("check-in held for quiet hours", "event", "checkin_quiet", "person", person)
	}
	return err
}

// fireCheckin starts the check-in flow and schedules the next one, its
// reminder and the point at which it counts as missed.
func (s *Scheduler) fireCheckin(ctx context.Context, person string, p map[string]string, score string, now time.Time) error {
	id := "checkin:" + score
	// Someone Lifeline cannot reach (they blocked the bot) is not written
	// to; their schedule moves on, so check-ins resume if they unblock it.
	away := p[bot.FieldUnreachable] == "1"
	if subscribed(p) && p[fPaused] != "1" && !away {
		if err := s.trigger(ctx, person, FlowCheckin, id); err != nil {
			return err
		}
	}
	sent, skipped := false, false
	np, err := s.update(ctx, person, func(q map[string]string) map[string]string {
		sent, skipped = false, false
		if q[fDue] != score {
			return nil
		}
		set := map[string]string{}
		if !subscribed(q) || q[fPaused] == "1" {
			set[fDue], set[fN] = "", ""
			return set
		}
		if away {
			skipped = true
			s.replan(q, set, atoi(q[fN])+1, now)
			return set
		}
		sent = true
		loc := s.loc(q)
		set[fPending], set[fRm], set[fCl] = id, ms(s.cfg.Quiet.Next(s.cad.ReminderAfter.add(now.In(loc), 1), loc)), ms(s.cad.MissedAfter.add(now.In(loc), 1))
		s.replan(q, set, atoi(q[fN])+1, now)
		return set
	})
	if err != nil {
		return err
	}
	if sent {
		s.count(ctx, np, map[string]int64{mSent: 1})
		s.log.Info("check-in sent", "event", "checkin_sent", "person", person)
	}
	if skipped {
		s.count(ctx, np, map[string]int64{mUnreachable: 1})
		s.log.Info("check-in not sent: person unreachable", "event", "checkin_unreachable", "person", person)
	}
	return nil
}

// fireReminder sends the one reminder of a check-in still unanswered.
func (s *Scheduler) fireReminder(ctx context.Context, person string, p map[string]string, score string) error {
	pending := p[fPending]
	if pending != "" && p[fAnswered] != pending && subscribed(p) && p[fPaused] != "1" && p[bot.FieldUnreachable] != "1" {
		if err := s.trigger(ctx, person, FlowReminder, "reminder:"+pending); err != nil {
			return err
		}
		s.log.Info("check-in reminder sent", "event", "checkin_reminded", "person", person)
	}
	_, err := s.update(ctx, person, func(q map[string]string) map[string]string {
		if q[fRm] != score {
			return nil
		}
		return map[string]string{fRm: ""}
	})
	return err
}

// fireClose counts an unanswered check-in as missed: a welfare case after
// WelfareAfterMisses in a row, and a dropout once the person has been
// silent for SilentAfter.
func (s *Scheduler) fireClose(ctx context.Context, person string, p map[string]string, score string, now time.Time) error {
	var misses int
	var silent bool
	np, err := s.update(ctx, person, func(q map[string]string) map[string]string {
		misses, silent = 0, false
		if q[fCl] != score {
			return nil
		}
		set := map[string]string{fCl: ""}
		if q[fPending] == "" || q[fAnswered] == q[fPending] {
			return set
		}
		misses = atoi(q[fMisses]) + 1
		set[fMisses] = strconv.Itoa(misses)
		if last, ok := fromMS(q["last"]); ok && q[fDropped] != "1" && !s.cad.SilentAfter.add(last, 1).After(now) {
			set[fDropped] = "1"
			silent = true
		}
		return set
	})
	if err != nil {
		return err
	}
	if misses == 0 {
		return nil
	}
	c := map[string]int64{mMissed: 1}
	if silent {
		c[mDropSilent] = 1
	}
	s.count(ctx, np, c)
	s.log.Info("check-in missed", "event", "checkin_missed", "person", person, "misses", misses)
	if misses == s.cad.WelfareAfterMisses {
		s.escalate(ctx, person, ReasonMissed, flows.PriorityLow)
	}
	return nil
}

// fireFollowUp looks, 3 or 6 months after a person's first "working"
// answer, at whether their last answer still says working.
func (s *Scheduler) fireFollowUp(ctx context.Context, person, kind, score string) error {
	field := kindField(kind)
	var working, done bool
	np, err := s.update(ctx, person, func(q map[string]string) map[string]string {
		done = false
		if q[field] != score {
			return nil
		}
		done = true
		working = q[fWork] == "working"
		return map[string]string{field: ""}
	})
	if err != nil || !done || !subscribed(np) {
		return err
	}
	c := map[string]int64{"still" + kind[1:] + "_n": 1}
	if working {
		c["still"+kind[1:]+"_yes"] = 1
	}
	s.count(ctx, np, c)
	return nil
}

// escalate opens a case through Config.Escalate, or the runtime's.
func (s *Scheduler) escalate(ctx context.Context, person, reason, priority string) {
	s.log.Info("check-in escalation", "event", "escalation", "person", person, "reason", reason, "priority", priority)
	if s.cfg.Escalate != nil {
		s.cfg.Escalate(ctx, person, reason, priority)
		return
	}
	if err := s.rt.Escalate(ctx, person, reason, priority, ""); err != nil {
		s.log.Error("escalation not recorded", "event", "escalation_failed", "person", person, "error", err)
	}
}
