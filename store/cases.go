package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cases are the coach module's: a case is a hash "case:<alias>" (its
// excerpt apart, "case:<alias>:excerpt", sealed and expiring), the aliases
// not yet closed are in the sorted set "cases:open" by opening time, and
// its timers in "case:timers" as "<alias>|<kind>" scored by due time. A
// coach's own hash "coach:<pseudonym>" holds the name they chose and the
// case they are writing to. What coaches do arrives on the stream
// "coach:in" (CoachQueue), recorded once per platform id.

// Case states.
const (
	CaseOpen    = "open"
	CaseClaimed = "claimed"
	CaseClosed  = "closed"
)

// Case timer kinds.
const (
	// TimerReannounce announces a case nobody claimed again and raises it
	// to the supervisors.
	TimerReannounce = "reannounce"
	// TimerGroup announces to the whole group a case first offered to the
	// coach who helped the person last.
	TimerGroup = "group"
	// TimerAnswer checks that the coach holding a case answered urgent
	// words in time.
	TimerAnswer = "answer"
)

// CaseRecord is a case as kept. Person, Value, Lang, Channel and Coach go
// when it closes; the reason and the times stay.
type CaseRecord struct {
	Alias, Person, Reason, Priority, Value, Lang, Channel, State string
	Opened, Claimed, Closed                                      time.Time
	// Coach is the sealed id of the coach holding the case.
	Coach string
	// Alarm is when urgent words came in while a coach held the case,
	// AlarmReason why; Answered is when the coach last wrote.
	Alarm, Answered time.Time
	AlarmReason     string
	// Announced is when coaches were first told of the case (zero until
	// they were: a retry of a failed announcement then announces it).
	Announced time.Time
	// Outcome is how the case ended (set from the console).
	Outcome string
	// PersonCases, when opening a case, are all the person's case aliases
	// with this one, kept in their profile ("cases") so that erasing them
	// finds every conversation.
	PersonCases string
}

// CaseTimer is a case's timer.
type CaseTimer struct {
	Alias string
	Kind  string // TimerReannounce, TimerGroup or TimerAnswer
	At    time.Time
}

func (t CaseTimer) member() string { return t.Alias + "|" + t.Kind }

// Every key of the cases shares the hash tag {case}: a case changes with
// its timers, the open set and its coach's record in one transaction on
// Redis Cluster too. Cases are few beside messages, so one slot holds
// them.
func (s *Store) caseKey(alias string) string    { return s.Key("{case}", "c", alias) }
func (s *Store) excerptKey(alias string) string { return s.Key("{case}", "c", alias, "excerpt") }
func (s *Store) caseTimersKey() string          { return s.Key("{case}", "timers") }
func (s *Store) openCasesKey() string           { return s.Key("{case}", "open") }
func (s *Store) coachKey(coach string) string   { return s.Key("{case}", "coach", coach) }

// CaseQueue is the queue of escalations the runtime records and the coach
// module turns into cases.
func (s *Store) CaseQueue() *Queue { return s.ShardedQueue(s.CaseStreams(), "coaches") }

// CoachQueue is the queue of what coaches did (RecordCoachAction).
// Its keys share the hash tag {coach}, so recording an action is one
// script on Redis Cluster too.
func (s *Store) CoachQueue() *Queue { return s.Queue(s.Key("{coach}", "in"), "coaches") }

var recordCoachScript = redis.NewScript(`
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) == false then return 0 end
redis.call('XADD', KEYS[2], '*', 'p', ARGV[2])
return 1
`)

// RecordCoachAction queues a coach's sealed action on CoachQueue, once per
// platform id (within IdempotencyTTL).
func (s *Store) RecordCoachAction(ctx context.Context, id string, sealed []byte) error {
	err := recordCoachScript.Run(ctx, s.rdb, []string{s.Key("{coach}", "seen", id), s.CoachQueue().Streams[0]},
		IdempotencyTTL.Milliseconds(), sealed).Err()
	if err != nil {
		return fmt.Errorf("record coach action: %w", err)
	}
	return nil
}

// ReserveCaseAlias takes alias for a new case; false when a case has it.
func (s *Store) ReserveCaseAlias(ctx context.Context, alias string) (bool, error) {
	ok, err := s.rdb.HSetNX(ctx, s.caseKey(alias), "state", CaseOpen).Result()
	if err != nil {
		return false, fmt.Errorf("reserve case alias: %w", err)
	}
	return ok, nil
}

// OpenCase records c (its alias reserved) as open, with its sealed excerpt
// (none when empty) kept for excerptTTL and its first timers, and names it
// in the person's profile ("case"): the profile first, then the case in
// one transaction (the person's keys and the cases' lie in different
// slots). Both steps can be repeated: a retry after a failure finds the
// case, and never opens a second one.
func (s *Store) OpenCase(ctx context.Context, c CaseRecord, excerpt []byte, excerptTTL time.Duration, timers ...CaseTimer) error {
	if c.Person != "" {
		fields := []any{"case", c.Alias}
		if c.PersonCases != "" {
			fields = append(fields, "cases", c.PersonCases)
		}
		if err := s.rdb.HSet(ctx, s.pkey(c.Person, kProfile), fields...).Err(); err != nil {
			return fmt.Errorf("open case: %w", err)
		}
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.caseKey(c.Alias), "person", c.Person, "reason", c.Reason, "priority", c.Priority, "value", c.Value,
		"lang", c.Lang, "ch", c.Channel, "state", CaseOpen, "opened", c.Opened.UnixMilli())
	pipe.ZAdd(ctx, s.openCasesKey(), redis.Z{Score: float64(c.Opened.UnixMilli()), Member: c.Alias})
	if len(excerpt) > 0 {
		pipe.Set(ctx, s.excerptKey(c.Alias), excerpt, excerptTTL)
	}
	for _, t := range timers {
		pipe.ZAdd(ctx, s.caseTimersKey(), redis.Z{Score: float64(t.At.UnixMilli()), Member: t.member()})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("open case: %w", err)
	}
	return nil
}

// Case returns the case alias, or nil when there is none.
func (s *Store) Case(ctx context.Context, alias string) (*CaseRecord, error) {
	h, err := s.rdb.HGetAll(ctx, s.caseKey(alias)).Result()
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return &CaseRecord{
		Alias: alias, Person: h["person"], Reason: h["reason"], Priority: h["priority"], Value: h["value"],
		Lang: h["lang"], Channel: h["ch"], State: h["state"], Coach: h["coach"],
		Opened: Millis(h["opened"]), Claimed: Millis(h["claimed"]), Closed: Millis(h["closed"]),
		Alarm: Millis(h["alarm"]), Answered: Millis(h["answered"]), AlarmReason: h["alarm_reason"],
		Announced: Millis(h["announced"]), Outcome: h["outcome"],
	}, nil
}

// MarkCaseAnnounced records that coaches were told of case alias.
func (s *Store) MarkCaseAnnounced(ctx context.Context, alias string, at time.Time) error {
	if err := s.rdb.HSet(ctx, s.caseKey(alias), "announced", at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("mark case announced: %w", err)
	}
	return nil
}

// Millis reads a time kept as Unix milliseconds, such as a profile's
// "first" and "last" or a case's times (zero when absent).
func Millis(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// SetCaseValue replaces the case's value (the indicator ids its
// escalations named).
func (s *Store) SetCaseValue(ctx context.Context, alias, value string) error {
	if err := s.rdb.HSet(ctx, s.caseKey(alias), "value", value).Err(); err != nil {
		return fmt.Errorf("set case value: %w", err)
	}
	return nil
}

// SetCasePriority changes the case's priority.
func (s *Store) SetCasePriority(ctx context.Context, alias, priority string) error {
	if err := s.rdb.HSet(ctx, s.caseKey(alias), "priority", priority).Err(); err != nil {
		return fmt.Errorf("set case priority: %w", err)
	}
	return nil
}

var claimCaseScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'open' then return {0, redis.call('HGET', KEYS[1], 'coach') or ''} end
redis.call('HSET', KEYS[1], 'state', 'claimed', 'coach', ARGV[1], 'claimed', ARGV[2])
return {1, ARGV[1]}
`)

// ClaimCase gives an open case to coach (a sealed id) at at. When the case
// is not open it reports false and the sealed id of the coach holding it
// ("" for none).
func (s *Store) ClaimCase(ctx context.Context, alias, coach string, at time.Time) (won bool, holder string, err error) {
	res, err := claimCaseScript.Run(ctx, s.rdb, []string{s.caseKey(alias)}, coach, at.UnixMilli()).Slice()
	if err != nil {
		return false, "", fmt.Errorf("claim case: %w", err)
	}
	if len(res) != 2 {
		return false, "", fmt.Errorf("claim case: unexpected reply %v", res)
	}
	n, _ := res[0].(int64)
	holder, _ = res[1].(string)
	return n == 1, holder, nil
}

// HoldCase follows a claim: the case's announcements stop and it becomes
// the current case of coach (a pseudonym).
func (s *Store) HoldCase(ctx context.Context, alias, coach string) error {
	pipe := s.rdb.TxPipeline()
	pipe.ZRem(ctx, s.caseTimersKey(), CaseTimer{Alias: alias, Kind: TimerReannounce}.member(), CaseTimer{Alias: alias, Kind: TimerGroup}.member())
	pipe.HSet(ctx, s.coachKey(coach), "current", alias)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("hold case: %w", err)
	}
	return nil
}

// CaseExcerpt returns the case's sealed excerpt, or nil once it expired.
func (s *Store) CaseExcerpt(ctx context.Context, alias string) ([]byte, error) {
	raw, err := s.rdb.Get(ctx, s.excerptKey(alias)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read case excerpt: %w", err)
	}
	return raw, nil
}

// CloseCase closes a case at at: it keeps only its reason, priority and
// times, leaves the open set, loses its announcements, and stops being the
// current case of coach (a pseudonym; "" for none).
func (s *Store) CloseCase(ctx context.Context, alias, coach string, at time.Time) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.caseKey(alias), "state", CaseClosed, "closed", at.UnixMilli())
	pipe.HDel(ctx, s.caseKey(alias), "person", "value", "lang", "ch", "coach")
	pipe.Del(ctx, s.excerptKey(alias))
	pipe.Expire(ctx, s.caseLogKey(alias), CaseLogTTL)
	pipe.ZRem(ctx, s.openCasesKey(), alias)
	pipe.ZRem(ctx, s.caseTimersKey(), CaseTimer{Alias: alias, Kind: TimerReannounce}.member(), CaseTimer{Alias: alias, Kind: TimerGroup}.member())
	if coach != "" {
		pipe.HDel(ctx, s.coachKey(coach), "current")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("close case: %w", err)
	}
	return nil
}

// HandOverCase gives a claimed case back to the group: open again, no
// longer coach's current case (a pseudonym), announced again at
// reannounce.
func (s *Store) HandOverCase(ctx context.Context, alias, coach string, reannounce time.Time) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.caseKey(alias), "state", CaseOpen)
	pipe.HDel(ctx, s.caseKey(alias), "coach", "claimed")
	pipe.HDel(ctx, s.coachKey(coach), "current")
	t := CaseTimer{Alias: alias, Kind: TimerReannounce, At: reannounce}
	pipe.ZAdd(ctx, s.caseTimersKey(), redis.Z{Score: float64(t.At.UnixMilli()), Member: t.member()})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("hand over case: %w", err)
	}
	return nil
}

// OpenCaseAliases returns up to limit cases not yet closed, oldest first.
func (s *Store) OpenCaseAliases(ctx context.Context, limit int) ([]string, error) {
	aliases, err := s.rdb.ZRange(ctx, s.openCasesKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list open cases: %w", err)
	}
	return aliases, nil
}

// CountOpenCases returns how many cases are not yet closed.
func (s *Store) CountOpenCases(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.openCasesKey()).Result()
}

// RaiseCaseAlarm records urgent words (reason) in a held case at at, and
// sets its TimerAnswer for answerBy.
func (s *Store) RaiseCaseAlarm(ctx context.Context, alias, reason string, at, answerBy time.Time) error {
	t := CaseTimer{Alias: alias, Kind: TimerAnswer, At: answerBy}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.caseKey(alias), "alarm", at.UnixMilli(), "alarm_reason", reason)
	pipe.ZAdd(ctx, s.caseTimersKey(), redis.Z{Score: float64(t.At.UnixMilli()), Member: t.member()})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("raise case alarm: %w", err)
	}
	return nil
}

// CaseAnswered records that the case's coach wrote to the person at at.
func (s *Store) CaseAnswered(ctx context.Context, alias string, at time.Time) error {
	if err := s.rdb.HSet(ctx, s.caseKey(alias), "answered", at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("record case answer: %w", err)
	}
	return nil
}

var leaseCaseTimersScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m) end
return due
`)

// TimerLease is how long a taken timer stays with the process that took
// it: one that dies before it fired the timer leaves it due again then.
const TimerLease = time.Minute

// DueCaseTimers takes up to 100 case timers due by now, atomically, so
// each fires once however many processes ask: each stays in the store,
// moved TimerLease ahead, until DoneCaseTimer. A process that dies between
// taking and firing one leaves it to fire again after the lease (at least
// once, never lost).
func (s *Store) DueCaseTimers(ctx context.Context, now time.Time) ([]CaseTimer, error) {
	leased := now.Add(TimerLease)
	due, err := leaseCaseTimersScript.Run(ctx, s.rdb, []string{s.caseTimersKey()}, now.UnixMilli(), leased.UnixMilli()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("take case timers: %w", err)
	}
	out := make([]CaseTimer, 0, len(due))
	for _, m := range due {
		alias, kind, _ := strings.Cut(m, "|")
		out = append(out, CaseTimer{Alias: alias, Kind: kind, At: leased})
	}
	return out, nil
}

var doneCaseTimerScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`)

// DoneCaseTimer removes a timer DueCaseTimers gave out, once it fired;
// a timer set again since (another score) stays.
func (s *Store) DoneCaseTimer(ctx context.Context, t CaseTimer) error {
	if err := doneCaseTimerScript.Run(ctx, s.rdb, []string{s.caseTimersKey()}, t.member(), strconv.FormatInt(t.At.UnixMilli(), 10)).Err(); err != nil {
		return fmt.Errorf("remove case timer: %w", err)
	}
	return nil
}

// CoachName returns the name coach (a pseudonym) chose ("" for none).
func (s *Store) CoachName(ctx context.Context, coach string) (string, error) {
	return s.coachField(ctx, coach, "name")
}

// SetCoachName keeps the name coach (a pseudonym) chose.
func (s *Store) SetCoachName(ctx context.Context, coach, name string) error {
	return s.setCoachField(ctx, coach, "name", name)
}

// CoachCase returns the alias of the case coach (a pseudonym) writes to
// ("" for none).
func (s *Store) CoachCase(ctx context.Context, coach string) (string, error) {
	return s.coachField(ctx, coach, "current")
}

// SetCoachCase makes alias the case coach (a pseudonym) writes to.
func (s *Store) SetCoachCase(ctx context.Context, coach, alias string) error {
	return s.setCoachField(ctx, coach, "current", alias)
}

func (s *Store) coachField(ctx context.Context, coach, field string) (string, error) {
	v, err := s.rdb.HGet(ctx, s.coachKey(coach), field).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read coach: %w", err)
	}
	return v, nil
}

func (s *Store) setCoachField(ctx context.Context, coach, field, v string) error {
	if err := s.rdb.HSet(ctx, s.coachKey(coach), field, v).Err(); err != nil {
		return fmt.Errorf("set coach %s: %w", field, err)
	}
	return nil
}

// A case's conversation: every relayed message, both ways, sealed, oldest
// first, in "case:<alias>:log". It is deleted with the person's data and
// expires CaseLogTTL after the case closes.

// CaseLogTTL is how long a closed case's conversation is kept.
const CaseLogTTL = 90 * 24 * time.Hour

func (s *Store) caseLogKey(alias string) string { return s.Key("{case}", "c", alias, "log") }

// CaseLogKey is the Redis key of a case's conversation (for tests that
// look inside Redis).
func (s *Store) CaseLogKey(alias string) string { return s.caseLogKey(alias) }

// AppendCaseLog adds a sealed entry to the case's conversation.
func (s *Store) AppendCaseLog(ctx context.Context, alias string, sealed []byte) error {
	if err := s.rdb.RPush(ctx, s.caseLogKey(alias), sealed).Err(); err != nil {
		return fmt.Errorf("append case log: %w", err)
	}
	return nil
}

// CaseLog returns the case's sealed conversation, oldest first.
func (s *Store) CaseLog(ctx context.Context, alias string) ([][]byte, error) {
	vals, err := s.rdb.LRange(ctx, s.caseLogKey(alias), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read case log: %w", err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}

// DeleteCaseLog erases the case's conversation (the person erased their
// data).
func (s *Store) DeleteCaseLog(ctx context.Context, alias string) error {
	if err := s.rdb.Del(ctx, s.caseLogKey(alias)).Err(); err != nil {
		return fmt.Errorf("delete case log: %w", err)
	}
	return nil
}

// ExpireCaseLog keeps a closed case's conversation for CaseLogTTL.
func (s *Store) ExpireCaseLog(ctx context.Context, alias string) error {
	if err := s.rdb.Expire(ctx, s.caseLogKey(alias), CaseLogTTL).Err(); err != nil {
		return fmt.Errorf("expire case log: %w", err)
	}
	return nil
}

var reassignCaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'claimed' or redis.call('HGET', KEYS[1], 'coach') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'coach', ARGV[2], 'claimed', ARGV[3])
return 1
`)

// ReassignCase moves a claimed case from coach from to coach to (the
// values ClaimCase was given), if from still holds it.
func (s *Store) ReassignCase(ctx context.Context, alias, from, to string, at time.Time) (bool, error) {
	n, err := reassignCaseScript.Run(ctx, s.rdb, []string{s.caseKey(alias)}, from, to, at.UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("reassign case: %w", err)
	}
	return n == 1, nil
}

// SetCaseOutcome records how a case ended (kept when it closes).
func (s *Store) SetCaseOutcome(ctx context.Context, alias, outcome string) error {
	if err := s.rdb.HSet(ctx, s.caseKey(alias), "outcome", outcome).Err(); err != nil {
		return fmt.Errorf("set case outcome: %w", err)
	}
	return nil
}
