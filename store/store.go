package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is Lifeline's Redis store. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	ns  string
	// sealer, when set, encrypts session envelopes at rest: a session
	// holds a person's answers, which may be free text.
	sealer *Sealer
	// ciTurn picks the shard ClaimCheckins starts from.
	ciTurn atomic.Uint32
	// clustered: on Redis Cluster, where only one shard's people go in
	// one script call.
	clustered bool
	// batches are the hot scripts' calls on their way (batch.go).
	batches batches
}

// Option configures a Store at New.
type Option func(*Store)

// WithSealer makes the store encrypt sessions at rest with sealer. Without
// it sessions are kept as the engine wrote them, and a sealed one cannot
// be read.
func WithSealer(sealer *Sealer) Option { return func(s *Store) { s.sealer = sealer } }

// New wraps a Redis client. ns prefixes every key ("ll" in production;
// tests use their own so they can share a server).
func New(rdb redis.UniversalClient, ns string, opts ...Option) *Store {
	if ns == "" {
		ns = "ll"
	}
	s := &Store{rdb: rdb, ns: ns}
	_, s.clustered = rdb.(*redis.ClusterClient)
	for _, o := range opts {
		o(s)
	}
	return s
}

// Sealer returns the sealer the store keeps sessions under (nil when it
// keeps them plain).
func (s *Store) Sealer() *Sealer { return s.sealer }

// Redis returns the underlying client, for tests that look inside Redis.
// Everything else goes through the store's operations: no package outside
// store imports go-redis (cases.go, checkins.go, broadcasts.go, …).
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Person key suffixes.
const (
	kSession = "s"      // the session as the engine wrote it, sealed
	kProfile = "p"      // hash: channel, sealed address, language, flags
	kInbox   = "in"     // list of sealed inbound messages, oldest first
	kLock    = "lock"   // per-person lock token
	kSeen    = "seen"   // zset of platform message ids → time, for dedupe
	kSent    = "sent"   // hash: delivery id → messages of it already sent
	kRecent  = "recent" // zset of platform message ids on both sides → time
	kOutbox  = "out"    // list of queued deliveries, oldest first
	kSLock   = "slock"  // per-person sending lock
	kTemp    = "t"      // hash: the profile's transient fields (TransientPrefix)
)

// TransientPrefix starts the names of profile fields that matter only for
// a while (the flood limit's counters): they are kept in a hash of their
// own that expires TransientTTL after its last change, so a person who has
// gone quiet keeps none of them. Begin returns them in the profile with
// the others.
const TransientPrefix = "t."

// TransientTTL is how long transient profile fields outlive their last
// change.
const TransientTTL = 10 * time.Minute

// PersonKeys are every key suffix a person owns; deleting them erases the
// person.
var PersonKeys = []string{kSession, kProfile, kInbox, kLock, kSeen, kSent, kRecent, kOutbox, kSLock, kTemp}

// Shards is how many groups people are spread over. A person belongs to
// one shard (ShardOf), and every key of theirs, with their shard's queues
// (work, outbound, cases, effects), people index and check-in set, carries
// the shard's hash tag: on Redis Cluster they share one slot, so one Lua
// script can touch a person's keys and queue their work. Sixteen spreads
// evenly enough over a 3- or 10-master cluster and keeps the blocking
// queue reads few; changing it would move every key, so it is fixed.
const Shards = 16

// ShardOf is the shard a person belongs to.
func ShardOf(person string) int {
	h := fnv.New32a()
	h.Write([]byte(person))
	return int(h.Sum32() % Shards)
}

// shardTags are the hash tags of the shards, "{s00}" to "{s0f}".
var shardTags = func() (t [Shards]string) {
	for i := range t {
		t[i] = fmt.Sprintf("{s%02x}", i)
	}
	return t
}()

func (s *Store) pkey(person, suffix string) string {
	return s.ns + ":" + shardTags[ShardOf(person)] + ":u:" + person + ":" + suffix
}

// tagOf is the hash tag of a person's shard.
func (s *Store) tagOf(person string) string { return shardTags[ShardOf(person)] }

// shardKey is a key of shard i: "<ns>:{sNN}:<name>".
func (s *Store) shardKey(i int, name string) string { return s.ns + ":" + shardTags[i] + ":" + name }

// shardKeys is the key name of every shard, in shard order.
func (s *Store) shardKeys(name string) []string {
	out := make([]string, Shards)
	for i := range out {
		out[i] = s.shardKey(i, name)
	}
	return out
}

// WorkStreams are the streams of "this person has new messages" items, one
// a shard.
func (s *Store) WorkStreams() []string { return s.shardKeys("work") }

// OutStreams are the outbound queues of a channel, one a shard.
func (s *Store) OutStreams(channel string) []string { return s.shardKeys("out:" + channel) }

// EffectStreams receive the after-commit work of turns, one a shard.
func (s *Store) EffectStreams() []string { return s.shardKeys("effects") }

// CaseStreams receive escalations, one a shard.
func (s *Store) CaseStreams() []string { return s.shardKeys("cases") }

// PeopleKey names the index of every person's id, for broadcasts and
// retention. It is kept as one set a shard; ScanPeople and ScanAudience
// read them all when given this name.
func (s *Store) PeopleKey() string { return s.ns + ":people" }

// Each person's own shard's keys of the above.
func (s *Store) workOf(person string) string { return s.shardKey(ShardOf(person), "work") }
func (s *Store) outOf(person, channel string) string {
	return s.shardKey(ShardOf(person), "out:"+channel)
}
func (s *Store) peopleOf(person string) string { return s.shardKey(ShardOf(person), "people") }

// Key returns a global key in the store's namespace.
func (s *Store) Key(parts ...string) string { return s.ns + ":" + strings.Join(parts, ":") }

// Dedupe and marker records live this long.
const IdempotencyTTL = 48 * time.Hour

// ErrLocked means another worker holds the person's lock.
var ErrLocked = errors.New("person is locked by another worker")

// ErrLockLost means the lock expired and was taken before the commit.
var ErrLockLost = errors.New("person lock was lost before commit")

// accept records an inbound message once: dedupe by platform id, append to
// the person's inbox, remember the channel and sealed address, and queue a
// work item. One round trip.
var acceptScript = newBatched("accept", TripAccept, recordLua+acceptBody)

// recordLua defines record, which records an inbound platform message
// once: false for an id seen within the window (ms, ARGV's strings), else
// its id kept in seen for dedupe and, when it has one, its platform id pm
// in recent (for /clear). Numbers go to Redis as the strings they came
// as: a Lua number would be formatted anew on each call. The accept and
// the warm turn (warm.go) share it.
const recordLua = `
local function record(seen, recent, ms, window, id, pm)
  local now, win = tonumber(ms), tonumber(window)
  if redis.call('ZADD', seen, 'NX', ms, id) == 0 then
    -- Seen: a repeat, unless that was longer ago than the window (the
    -- set is trimmed only now and then).
    if tonumber(redis.call('ZSCORE', seen, id)) > now - win then return false end
    redis.call('ZADD', seen, ms, id)
  end
  if now % 8 == 0 then redis.call('ZREMRANGEBYSCORE', seen, '-inf', now - win) end
  redis.call('PEXPIRE', seen, window)
  if pm ~= '' then
    redis.call('ZADD', recent, ms, pm)
    if now % 8 == 0 then redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - win) end
    redis.call('PEXPIRE', recent, window)
  end
  return true
end
`

// acceptBody is the accept script's body, also run by a warm turn whose
// state was stale (warm.go).
const acceptBody = `
if not record(KEYS[1], KEYS[5], ARGV[1], ARGV[2], ARGV[3], ARGV[8]) then return 0 end
local queued = redis.call('RPUSH', KEYS[2], ARGV[4])
local had = redis.call('HMGET', KEYS[3], 'first', 'addr', 'unreachable')
local set = {'ch', ARGV[5], 'last', ARGV[1]}
if not had[1] then set[#set + 1] = 'first'; set[#set + 1] = ARGV[1] end
if not had[2] or ARGV[7] == '1' then set[#set + 1] = 'addr'; set[#set + 1] = ARGV[6] end
redis.call('HSET', KEYS[3], unpack(set))
-- A person who writes can be reached again (a carrier's earlier failure,
-- a block since lifted).
if had[3] then redis.call('HDEL', KEYS[3], 'unreachable') end
local id = redis.call('XADD', KEYS[4], '*', 'p', ARGV[9])
-- Only accept sets "first": a person without it is new to the index.
if not had[1] then redis.call('SADD', KEYS[6], ARGV[9]) end
if ARGV[10] == '' then return 1 end
local r = redis.pcall('XREADGROUP', 'GROUP', ARGV[10], ARGV[11], 'COUNT', ARGV[12], 'STREAMS', KEYS[4], '>')
if type(r) ~= 'table' or r.err then return 1 end
-- The worker that takes this person's entry may start their turn at
-- once: with the lock free, it comes back begun, as Begin would.
local mine = false
for _, e in ipairs(r[1][2]) do
  if e[1] == id then mine = true end
end
if not mine or ARGV[13] == '' or not redis.call('SET', KEYS[7], ARGV[13], 'PX', ARGV[14], 'NX') then
  return {1, false, r}
end
-- An inbox this message began holds only it.
local msgs = {ARGV[4]}
if queued > 1 then msgs = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[15]) - 1) end
local sess = redis.call('GET', KEYS[8]) or ''
local prof = redis.call('HGETALL', KEYS[3])
local temp = redis.call('HGETALL', KEYS[9])
for k = 1, #temp do prof[#prof + 1] = temp[k] end
return {1, {msgs, sess, prof}, r}
`

// Accepted describes one inbound message to record.
type Accepted struct {
	Person    string
	MessageID string
	Channel   string
	Sealed    []byte // sealed inbound payload
	Address   []byte // sealed address
	// Readdress replaces a stored address (a new ciphertext each time
	// would only grow Redis's files, so normally the first one stays).
	Readdress   bool
	PlatformMsg int64 // kept for clearing the chat; 0 for none
	At          time.Time
	// BeginToken, when set, lets AcceptTaking begin the person's turn for
	// the worker that takes their entry: it takes their lock for BeginTTL
	// under this token, if free, and that entry comes back with the turn
	// Begin would load (at most BeginMax messages) in Entry.Begun.
	BeginToken string
	BeginTTL   time.Duration
	BeginMax   int
	// Value is what Sealed holds, before it was sealed; nothing stores it.
	// When the message comes back in the turn begun for it, it is in the
	// turn's Values, so the worker need not open what its own process
	// just sealed.
	Value any
}

// Accept records a; it reports false when the message id was seen before.
func (s *Store) Accept(ctx context.Context, a Accepted) (bool, error) {
	fresh, _, err := s.AcceptTaking(ctx, a, "")
	return fresh, err
}

// The consumer groups of the runtime's queues: workers read the work
// streams, senders the outbound ones.
const (
	WorkGroup   = "workers"
	SendGroup   = "senders"
	EffectGroup = "effects"
)

// TakeCount bounds the entries a script takes for its caller (see
// AcceptTaking).
const TakeCount = 16

// AcceptTaking is Accept that, in the same round trip, takes for consumer
// (in WorkGroup) the entries of the person's shard's work stream that no
// consumer has read yet, the one it queued among them, up to TakeCount:
// exactly what consumer's next read of the queue would return, without
// the read. A caller hands them to its own workers. An empty consumer
// takes nothing.
func (s *Store) AcceptTaking(ctx context.Context, a Accepted, consumer string) (bool, []Entry, error) {
	keys, args := s.acceptCall(a, consumer)
	res, err := acceptScript.run(ctx, s, s.tagOf(a.Person), keys, args)
	if err != nil {
		return false, nil, fmt.Errorf("accept inbound: %w", err)
	}
	return s.accepted(ctx, a, res)
}

// acceptKeys and acceptArgs are how many keys and args the accept takes.
const (
	acceptKeys = 9
	acceptArgs = 15
)

// acceptCall lays out the accept's keys and args (see acceptBody).
func (s *Store) acceptCall(a Accepted, consumer string) ([]string, []any) {
	pm := ""
	if a.PlatformMsg != 0 {
		pm = "in:" + strconv.FormatInt(a.PlatformMsg, 10)
	}
	re := "0"
	if a.Readdress {
		re = "1"
	}
	group := ""
	if consumer != "" {
		group = WorkGroup
	}
	return []string{s.pkey(a.Person, kSeen), s.pkey(a.Person, kInbox), s.pkey(a.Person, kProfile), s.workOf(a.Person), s.pkey(a.Person, kRecent), s.peopleOf(a.Person),
			s.pkey(a.Person, kLock), s.pkey(a.Person, kSession), s.pkey(a.Person, kTemp)},
		[]any{a.At.UnixMilli(), IdempotencyTTL.Milliseconds(), a.MessageID, a.Sealed, a.Channel, a.Address, re, pm, a.Person, group, consumer, TakeCount,
			a.BeginToken, a.BeginTTL.Milliseconds(), max(a.BeginMax, 1)}
}

// accepted reads the accept's reply.
func (s *Store) accepted(ctx context.Context, a Accepted, res any) (bool, []Entry, error) {
	if n, ok := res.(int64); ok {
		return n == 1, nil, nil
	}
	parts, ok := res.([]any)
	if !ok || len(parts) != 3 {
		return false, nil, fmt.Errorf("accept inbound: unexpected reply %T", res)
	}
	taken := takenEntries(parts[2:])
	if begun, ok := parts[1].([]any); ok {
		t, err := s.turnOf(a.Person, a.BeginToken, begun)
		if err != nil {
			// The lock is ours and nobody will use it: give it back.
			_ = s.UnlockTurn(ctx, a.Person, a.BeginToken)
			return true, taken, nil
		}
		for i, m := range t.Inbox {
			if string(m) == string(a.Sealed) {
				t.Values = make([]any, len(t.Inbox))
				t.Values[i] = a.Value
			}
		}
		for i, e := range taken {
			if string(e.Payload) == a.Person {
				taken[i].Begun, taken[i].Token = t, a.BeginToken
				break
			}
		}
	}
	return true, taken, nil
}

// UnlockTurn releases the person's turn lock if token holds it (a turn
// begun for a worker that will not run it).
func (s *Store) UnlockTurn(ctx context.Context, person, token string) error {
	return unlockScript.Run(ctx, s.rdb, []string{s.pkey(person, kLock)}, token).Err()
}

var acceptForScript = redis.NewScript(`
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZADD', KEYS[1], 'NX', now, ARGV[3]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('XADD', KEYS[4], '*', 'p', ARGV[5])
return 1
`)

// AcceptFor records a message the runtime itself makes for a known person
// (a trigger), once per id. It reports false for a repeated id or an
// unknown person.
func (s *Store) AcceptFor(ctx context.Context, person, id string, sealed []byte, at time.Time) (bool, error) {
	n, err := acceptForScript.Run(ctx, s.rdb,
		[]string{s.pkey(person, kSeen), s.pkey(person, kInbox), s.pkey(person, kProfile), s.workOf(person)},
		at.UnixMilli(), IdempotencyTTL.Milliseconds(), id, sealed, person).Int()
	if err != nil {
		return false, fmt.Errorf("accept trigger: %w", err)
	}
	return n == 1, nil
}

// begin takes the person's lock (or renews it when the token already holds
// it) and returns up to ARGV[3] inbox messages, the session and the profile.
var beginScript = newBatched("begin", TripBegin, `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return false end
local msgs = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)
if #msgs == 0 then
  if cur then redis.call('DEL', KEYS[1]) end
  return {msgs, '', {}}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local sess = redis.call('GET', KEYS[3]) or ''
local prof = redis.call('HGETALL', KEYS[4])
local temp = redis.call('HGETALL', KEYS[5])
for k = 1, #temp do prof[#prof + 1] = temp[k] end
return {msgs, sess, prof}
`)

// Turn is what Begin loaded for one person.
type Turn struct {
	Person string
	Token  string
	Inbox  [][]byte
	// Session is the person's session as the engine wrote it
	// (flows.WriteSession), opened; nil when they have none.
	Session []byte
	Profile map[string]string
	// Values, when set, holds beside each Inbox message the value it was
	// sealed from, where this process accepted it in the round trip that
	// began the turn (Accepted.Value); nil where it is not known.
	Values []any
	// Acked is set by a commit that acknowledged Commit.Ack.
	Acked bool
	// Warm is set by a commit that left the inbox empty and the person
	// kept: their state as the commit left it, for a warm turn (warm.go).
	Warm *Warm
	// sealed is the session as Redis held it when the turn began.
	sealed string
}

// Begin locks the person for ttl and loads their pending messages (at most
// max), session and profile in one round trip. It returns ErrLocked when
// another worker holds the lock. With an empty inbox it loads nothing and
// leaves the person unlocked (releasing the lock if token held it): the lock
// is only ever released where the inbox is seen empty, in the same script,
// so whoever holds it handles every message already accepted.
func (s *Store) Begin(ctx context.Context, person, token string, ttl time.Duration, max int) (*Turn, error) {
	res, err := beginScript.run(ctx, s, s.tagOf(person),
		[]string{s.pkey(person, kLock), s.pkey(person, kInbox), s.pkey(person, kSession), s.pkey(person, kProfile), s.pkey(person, kTemp)},
		[]any{token, ttl.Milliseconds(), max},
	)
	if errors.Is(err, redis.Nil) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("begin turn: %w", err)
	}
	parts, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("begin turn: unexpected reply %T", res)
	}
	return s.turnOf(person, token, parts)
}

// turnOf reads begin's reply {inbox, session, profile}.
func (s *Store) turnOf(person, token string, parts []any) (*Turn, error) {
	if len(parts) != 3 {
		return nil, fmt.Errorf("begin turn: unexpected reply of %d parts", len(parts))
	}
	var err error
	t := &Turn{Person: person, Token: token, Profile: map[string]string{}}
	msgs, _ := parts[0].([]any)
	for _, m := range msgs {
		str, _ := m.(string)
		t.Inbox = append(t.Inbox, []byte(str))
	}
	if raw, _ := parts[1].(string); raw != "" {
		t.sealed = raw
		if t.Session, err = s.openSession([]byte(raw)); err != nil {
			return nil, err
		}
	}
	prof, _ := parts[2].([]any)
	for i := 0; i+1 < len(prof); i += 2 {
		k, _ := prof[i].(string)
		v, _ := prof[i+1].(string)
		t.Profile[k] = v
	}
	return t, nil
}

// commit saves the turn: checks the lock is still ours, removes the handled
// inbox messages, saves (or wipes) the session and profile, queues the
// deliveries, and releases the lock when the inbox is empty. One round trip.
//
// KEYS: lock, inbox, session, profile, then the person's other keys to wipe,
// then one outbound stream per delivery, the case stream, the effect stream.
// ARGV: token, handled, session (” = keep), wipe flag, nwipe, nprofile,
// profile field/value pairs (value ” deletes the field), ndel, deliveries.
var commitScript = newBatched("commit", TripCommit, `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local warm = false
`+commitBody)

// commitBody is the commit after its lock check, shared with the warm
// turn (warm.go), which checks otherwise and sets warm: it holds no lock
// and has no inbox.
const commitBody = `
if ARGV[2] ~= '0' then redis.call('LTRIM', KEYS[2], ARGV[2], -1) end
local i = 7
local nwipe = tonumber(ARGV[5])
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[3], KEYS[4])
  for k = 1, nwipe do redis.call('DEL', KEYS[4 + k]) end
elseif ARGV[3] ~= '' then
  redis.call('SET', KEYS[3], ARGV[3])
end
-- The profile's and then the transient fields' changes, each as one
-- HSET and one HDEL.
local function fields(key, n)
  local set, del = {}, {}
  for k = 1, n do
    local f, v = ARGV[i], ARGV[i + 1]
    if v == '' then del[#del + 1] = f else set[#set + 1] = f; set[#set + 1] = v end
    i = i + 2
  end
  if #set > 0 then redis.call('HSET', key, unpack(set)) end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
end
fields(KEYS[4], tonumber(ARGV[6]))
local nt = tonumber(ARGV[i]); i = i + 1
fields(KEYS[#KEYS], nt)
if nt > 0 then redis.call('PEXPIRE', KEYS[#KEYS], ARGV[i]) end
i = i + 1
local nd = tonumber(ARGV[i]); i = i + 1
local person = ARGV[i]; i = i + 1
local group = ARGV[i]; i = i + 1
local outbox = KEYS[4 + nwipe + 1]
local taken = {}
-- take reads for consumer what a read of stream would return now; mine
-- is set when that holds the entry id.
local mine = false
local function take(stream, grp, consumer, count, id)
  local r = redis.pcall('XREADGROUP', 'GROUP', grp, consumer, 'COUNT', count, 'STREAMS', stream, '>')
  if type(r) ~= 'table' or r.err then return end
  taken[#taken + 1] = r
  for _, e in ipairs(r[1][2]) do
    if e[1] == id then mine = true end
  end
end
-- fresh: the first delivery went into an empty outbox, so it is the
-- oldest, and nothing of it was sent.
local fresh = nil
for k = 1, nd do
  local stream = KEYS[4 + nwipe + 1 + k]
  if redis.call('RPUSH', outbox, ARGV[i]) == 1 then fresh = ARGV[i] end
  local id = redis.call('XADD', stream, '*', 'p', person)
  if ARGV[i + 1] ~= '' then take(stream, group, ARGV[i + 1], ARGV[i + 2], id) end
  i = i + 3
end
local nc = tonumber(ARGV[i]); i = i + 1
for k = 1, nc do
  redis.call('XADD', KEYS[4 + nwipe + 1 + nd + 1], '*', 'p', ARGV[i])
  i = i + 1
end
local ne = tonumber(ARGV[i]); i = i + 1
local fxs = KEYS[4 + nwipe + 1 + nd + 2]
for k = 1, ne do
  redis.call('XADD', fxs, '*', 'p', ARGV[i])
  i = i + 1
end
local fxtaker, stok, sttl = ARGV[i], ARGV[i + 1], ARGV[i + 2]
if ne > 0 and fxtaker ~= '' then take(fxs, ARGV[i + 3], fxtaker, ARGV[i + 4], '') end
-- The sender that takes one of this person's deliveries may start on
-- their oldest at once: its lock, and the delivery, come back with it.
local head, sent = '', 0
if mine and stok ~= '' and redis.call('SET', KEYS[4 + nwipe + 1 + nd + 3], stok, 'PX', sttl, 'NX') then
  head = fresh
  if not head then
    head = redis.call('LINDEX', outbox, 0)
    sent = tonumber(redis.call('HGET', KEYS[4 + nwipe + 1 + nd + 4], string.match(head, '^[^|]*')) or '0')
  end
end
local left = 0
if not warm then left = redis.call('LLEN', KEYS[2]) end
if left == 0 and not warm then
  redis.call('DEL', KEYS[1])
  -- The work entry that brought the turn is done with.
  local ackid = ARGV[i + 5]
  if ackid ~= '' then
    redis.call('XACK', KEYS[4 + nwipe + 1 + nd + 5], ARGV[i + 6], ackid)
    redis.call('XDEL', KEYS[4 + nwipe + 1 + nd + 5], ackid)
  end
end
if #taken > 0 then
  return {left, head, sent, unpack(taken)}
end
return left
`

// Commit describes the outcome of a turn.
type Commit struct {
	Handled int // inbox messages consumed
	// Session is the session to keep, as flows.WriteSession made it (the
	// store seals it); nil keeps the one kept.
	Session []byte
	// Wipe erases everything about the person (their session, profile,
	// dedupe, sent and recent records). Deliveries are still queued.
	Wipe       bool
	Profile    map[string]string // "" deletes a field
	Deliveries []Queued
	// Cases are sealed escalations for the case stream, recorded in the
	// same step as the turn so none is lost to a crash.
	Cases [][]byte
	// Effects are sealed after-commit work for the effect stream, recorded
	// with the turn likewise.
	Effects [][]byte
	// TakeEffects, when set, is the consumer (in EffectGroup) that takes
	// the effect entries, as Queued.Take does for deliveries.
	TakeEffects string
	// SendToken, when set, lets the commit hand a sender that takes one of
	// the person's deliveries (Queued.Take) a head start: it takes the
	// person's sending lock for SendLockTTL under this token, if free,
	// and that entry comes back with it and their oldest delivery (Entry's
	// Next and Token), as NextOutbound would return them.
	SendToken string
	// Ack, when set, is the entry of the person's work stream (WorkGroup)
	// that brought the turn: a commit that leaves the inbox empty
	// acknowledges and deletes it, as Queue.Done would, and says so in
	// Turn.Acked. An entry of another stream is left alone.
	Ack Entry
}

// Queued is one delivery for a person's outbox.
type Queued struct {
	Channel string
	ID      string // unique; names the delivery's sent-marker
	Sealed  []byte
	// Once, when set, queues the delivery only if none with the same Once
	// was queued for the person within IdempotencyTTL: a broadcast retried
	// after a crash between queueing and recording it queues nothing twice.
	Once string
	// Take, when set, is the consumer (in SendGroup) that Commit takes the
	// delivery's outbound entry for, with any other unread entries of its
	// stream (up to TakeCount), as AcceptTaking does for work.
	Take string
	// Value is what Sealed holds, before it was sealed; nothing stores it.
	// When the commit hands this delivery to a sender (Commit.SendToken)
	// it comes back in Outgoing.Value, so the sender need not open what
	// its own process just sealed.
	Value any
}

// Commit applies c for the turn t holds. It returns how many messages are
// still waiting in the inbox (the lock is kept then, for the next round),
// or ErrLockLost.
func (s *Store) Commit(ctx context.Context, t *Turn, c Commit) (int, error) {
	left, _, err := s.CommitTaking(ctx, t, c)
	return left, err
}

// CommitTaking is Commit that also returns the outbound entries it took
// for the deliveries' Take consumers.
func (s *Store) CommitTaking(ctx context.Context, t *Turn, c Commit) (int, []Entry, error) {
	keys, args, ack, sealed := s.commitCall(t, c, nil, 0)
	res, err := commitScript.run(ctx, s, s.tagOf(t.Person), keys, args)
	if err != nil {
		return 0, nil, fmt.Errorf("commit turn: %w", err)
	}
	return s.committed(ctx, t, c, ack, sealed, res)
}

// commitCall lays out the commit's keys and args (see commitScript); more
// are keys of the person's that go just before the last key, and room is
// left for moreArgs args after the commit's (a warm turn's). It returns the work entry the commit acknowledges and the
// session as it seals it ("" to keep the one kept).
func (s *Store) commitCall(t *Turn, c Commit, more []string, moreArgs int) (keys []string, args []any, ack, sealed string) {
	person := t.Person
	// Room for every key and arg, and for a warm turn's (AcceptTurn).
	keys = make([]string, 0, 15+len(more)+len(c.Deliveries))
	keys = append(keys, s.pkey(person, kLock), s.pkey(person, kInbox), s.pkey(person, kSession), s.pkey(person, kProfile))
	if c.Session != nil && !c.Wipe {
		sealed = string(s.sealSession(c.Session))
	}
	wipe := "0"
	var wipeKeys []string
	if c.Wipe {
		wipe = "1"
		for _, k := range []string{kSeen, kSent, kRecent, kTemp} {
			wipeKeys = append(wipeKeys, s.pkey(person, k))
		}
	}
	keys = append(keys, wipeKeys...)
	var profile, temp []any
	for f, v := range c.Profile {
		if strings.HasPrefix(f, TransientPrefix) {
			temp = append(temp, f, v)
		} else {
			profile = append(profile, f, v)
		}
	}
	args = make([]any, 0, 32+len(c.Profile)*2+3*len(c.Deliveries)+len(c.Cases)+len(c.Effects)+moreArgs)
	args = append(args, t.Token, c.Handled, sealed, wipe, len(wipeKeys), len(profile)/2)
	args = append(args, profile...)
	args = append(args, len(temp)/2)
	args = append(args, temp...)
	args = append(args, TransientTTL.Milliseconds())
	args = append(args, len(c.Deliveries), person, SendGroup)
	keys = append(keys, s.pkey(person, kOutbox))
	for _, d := range c.Deliveries {
		keys = append(keys, s.outOf(person, d.Channel))
		args = append(args, outboxEntry(d), d.Take, TakeCount)
	}
	keys = append(keys, s.shardKey(ShardOf(person), "cases"))
	args = append(args, len(c.Cases))
	for _, cs := range c.Cases {
		args = append(args, cs)
	}
	keys = append(keys, s.shardKey(ShardOf(person), "effects"))
	args = append(args, len(c.Effects))
	for _, e := range c.Effects {
		args = append(args, e)
	}
	args = append(args, c.TakeEffects, c.SendToken, SendLockTTL.Milliseconds(), EffectGroup, TakeCount)
	keys = append(keys, s.pkey(person, kSLock), s.pkey(person, kSent))
	work := s.workOf(person)
	if c.Ack.ID != "" && c.Ack.Stream == work {
		ack = c.Ack.ID
	}
	keys = append(keys, work)
	args = append(args, ack, WorkGroup)
	keys = append(keys, more...)
	keys = append(keys, s.pkey(person, kTemp)) // last: KEYS[#KEYS]
	return keys, args, ack, sealed
}

// committed reads the commit's reply, and notes in t the state the
// commit left (Turn.Warm).
func (s *Store) committed(ctx context.Context, t *Turn, c Commit, ack, sealed string, res any) (int, []Entry, error) {
	person := t.Person
	if n, ok := res.(int64); ok {
		if n < 0 {
			return 0, nil, ErrLockLost
		}
		t.Acked = n == 0 && ack != ""
		t.left(c, sealed, int(n))
		return int(n), nil, nil
	}
	parts, ok := res.([]any)
	if !ok || len(parts) < 3 {
		return 0, nil, fmt.Errorf("commit turn: unexpected reply %T", res)
	}
	left, _ := parts[0].(int64)
	t.Acked = left == 0 && ack != ""
	t.left(c, sealed, int(left))
	taken := takenEntries(parts[3:])
	if head, _ := parts[1].(string); head != "" {
		sent, _ := parts[2].(int64)
		id, sealed, _ := strings.Cut(head, "|")
		next := &Outgoing{ID: id, Sealed: []byte(sealed), Sent: int(sent)}
		for _, d := range c.Deliveries {
			if d.ID == id && sent == 0 {
				next.Value = d.Value
			}
		}
		held := false
		for i, e := range taken {
			if string(e.Payload) == person && !held && s.isOut(e.Stream) {
				taken[i].Next, taken[i].Token, held = next, c.SendToken, true
			}
		}
		if !held {
			// Nobody to hand the lock to (the script says one was taken).
			_ = s.UnlockSending(ctx, person, c.SendToken)
		}
	}
	return int(left), taken, nil
}

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// LoadSession reads a person's session as the engine wrote it (nil when
// they have none); flows.ReadSession decodes it.
func (s *Store) LoadSession(ctx context.Context, person string) ([]byte, error) {
	raw, err := s.rdb.Get(ctx, s.pkey(person, kSession)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	return s.openSession(raw)
}

// Profile reads a person's profile hash.
func (s *Store) Profile(ctx context.Context, person string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.pkey(person, kProfile)).Result()
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return m, nil
}

// SetProfile sets profile fields ("" deletes one).
func (s *Store) SetProfile(ctx context.Context, person string, fields map[string]string) error {
	pipe := s.rdb.TxPipeline()
	k := s.pkey(person, kProfile)
	for f, v := range fields {
		if v == "" {
			pipe.HDel(ctx, k, f)
		} else {
			pipe.HSet(ctx, k, f, v)
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Recent returns the platform message ids recorded for a person since since,
// as "in:<id>" and "out:<id>" members.
func (s *Store) Recent(ctx context.Context, person string, since time.Time) ([]string, error) {
	return s.rdb.ZRangeByScore(ctx, s.pkey(person, kRecent), &redis.ZRangeBy{
		Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf",
	}).Result()
}

// ForgetRecent drops recorded platform message ids (after clearing a chat).
func (s *Store) ForgetRecent(ctx context.Context, person string) error {
	return s.rdb.Del(ctx, s.pkey(person, kRecent)).Err()
}

func outboxEntry(d Queued) []byte {
	return append([]byte(d.ID+"|"), d.Sealed...)
}

var enqueueScript = redis.NewScript(`
if ARGV[3] ~= '' then
  local now = tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[5]))
  if redis.call('ZADD', KEYS[3], 'NX', now, ARGV[3]) == 0 then return 0 end
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'p', ARGV[2])
return 1
`)

// Enqueue queues a delivery for a person outside a turn (a broadcast, a
// coach's reply). It reports false when d.Once was already queued.
func (s *Store) Enqueue(ctx context.Context, person string, d Queued, now time.Time) (bool, error) {
	once := ""
	if d.Once != "" {
		once = "once:" + d.Once
	}
	n, err := enqueueScript.Run(ctx, s.rdb, []string{s.pkey(person, kOutbox), s.outOf(person, d.Channel), s.pkey(person, kSeen)},
		outboxEntry(d), person, once, now.UnixMilli(), IdempotencyTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("enqueue delivery: %w", err)
	}
	return n == 1, nil
}

// nextScript takes (or renews) the person's sending lock and returns the
// oldest delivery with the number of its messages already sent; with an
// empty outbox it releases the lock and returns nil.
var nextScript = newBatched("next", TripNext, `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return -1 end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local id = string.match(head, '^[^|]*')
local n = tonumber(redis.call('HGET', KEYS[3], id) or '0')
return {head, n}
`)

// Outgoing is the oldest delivery in a person's outbox.
type Outgoing struct {
	ID     string
	Sealed []byte
	// Sent messages of it were already accepted by the platform (a retry
	// after a crash starts after them).
	Sent int
	// Value is Queued.Value when the commit that queued the delivery
	// handed it over; nil when it was read from Redis.
	Value any
	// Ack, when set, is the entry of the person's outbound stream
	// (SendGroup) that brought the sender: the record that empties the
	// outbox acknowledges and deletes it, as Queue.Done would, and sets
	// Acked. An entry of another stream is left alone.
	Ack   Entry
	Acked bool
}

// NextOutbound locks the person's sending side for ttl and returns their
// oldest queued delivery, or nil (and the lock released) when none waits.
// One person's deliveries are thus sent in order, by one sender at a time,
// whatever the number of processes. It returns ErrLocked when another
// sender holds the person.
func (s *Store) NextOutbound(ctx context.Context, person, token string, ttl time.Duration) (*Outgoing, error) {
	res, err := nextScript.run(ctx, s, s.tagOf(person), []string{s.pkey(person, kSLock), s.pkey(person, kOutbox), s.pkey(person, kSent)},
		[]any{token, ttl.Milliseconds()})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("next delivery: %w", err)
	}
	if n, ok := res.(int64); ok && n == -1 {
		return nil, ErrLocked
	}
	parts, ok := res.([]any)
	if !ok || len(parts) != 2 {
		return nil, fmt.Errorf("next delivery: unexpected reply %T", res)
	}
	head, _ := parts[0].(string)
	sent, _ := parts[1].(int64)
	id, sealed, _ := strings.Cut(head, "|")
	return &Outgoing{ID: id, Sealed: []byte(sealed), Sent: int(sent)}, nil
}

// sentScript records that the first ARGV[3] messages of delivery ARGV[2]
// were sent; when ARGV[4] is 1 the delivery is complete and leaves the
// outbox. The platform's message id is kept for clearing the chat.
var sentScript = newBatched("sent", TripMark, `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return -1 end
if not cur then
  -- The lock expired (Redis was away longer than its TTL) and nobody took
  -- it since: what was sent is still ours to record, if the delivery is
  -- still the head of the outbox.
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head or string.match(head, '^[^|]*') ~= ARGV[2] then return -1 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[8])
end
local now = tonumber(ARGV[6])
local left = 1
if ARGV[4] == '1' then
  redis.call('LPOP', KEYS[2])
  -- A delivery of one message never had a count kept.
  if ARGV[3] ~= '1' then redis.call('HDEL', KEYS[3], ARGV[2]) end
  left = redis.call('LLEN', KEYS[2])
  if left == 0 then
    redis.call('DEL', KEYS[1])
    -- The outbound entry that brought the sender is done with.
    if ARGV[10] ~= '' then
      redis.call('XACK', KEYS[5], ARGV[9], ARGV[10])
      redis.call('XDEL', KEYS[5], ARGV[10])
    end
  end
else
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[7])
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5])
  -- Recent reads only the window; what is older goes now and then.
  if now % 8 == 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[7])) end
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
end
if left == 0 then return 0 end
return 1
`)

// MarkSent records that the first n messages of the person's oldest
// delivery are sent; done removes the delivery from the outbox. platformMsg
// is the platform's id of the message just sent (0 for none). When done
// empties the outbox it also releases the sending lock, and more is false:
// the sender need not ask again.
func (s *Store) MarkSent(ctx context.Context, person, token string, o *Outgoing, n int, done bool, platformMsg int64, now time.Time) (more bool, err error) {
	pm := ""
	if platformMsg != 0 {
		pm = "out:" + strconv.FormatInt(platformMsg, 10)
	}
	fin := "0"
	if done {
		fin = "1"
	}
	patience := time.Duration(0)
	if done {
		patience = finalMarkPatience
	}
	// The entry's stream when it is one of the person's shard's outbound
	// streams; else a key of the shard that is left untouched.
	stream, ack := s.workOf(person), ""
	if ch, ok := s.OutChannel(o.Ack.Stream); ok && done && o.Ack.ID != "" && o.Ack.Stream == s.outOf(person, ch) {
		stream, ack = o.Ack.Stream, o.Ack.ID
	}
	res, err := asInt(sentScript.runPatient(ctx, s, s.tagOf(person),
		[]string{s.pkey(person, kSLock), s.pkey(person, kOutbox), s.pkey(person, kSent), s.pkey(person, kRecent), stream},
		[]any{token, o.ID, n, fin, pm, now.UnixMilli(), IdempotencyTTL.Milliseconds(), SendLockTTL.Milliseconds(), SendGroup, ack}, patience))
	if err != nil {
		return false, fmt.Errorf("mark sent: %w", err)
	}
	if res < 0 {
		return false, ErrLockLost
	}
	o.Acked = res == 0 && ack != ""
	return res == 1, nil
}

// FinalMarkPatience is how long the record of a delivery's last message
// may wait for others to go with it to Redis. Nobody waits on it but the
// person's next delivery, if one is queued (the sending lock is held
// until it is written, so nothing after it is sent first): with Redis
// idle, records that would each make a round trip share one, or go with
// the next accept or commit of their shard (batch.go). A crash while it
// waits repeats the message, as one between the send and the record
// always could.
const FinalMarkPatience = 5 * time.Millisecond

// finalMarkPatience is FinalMarkPatience, which tests lengthen.
var finalMarkPatience = FinalMarkPatience

// SendLockTTL is how long a sending lock lives unless its holder renews it
// (RenewSending): short, so a dead sender's people are taken over within
// seconds.
const SendLockTTL = 6 * time.Second

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// RenewSending extends the person's sending lock by ttl if token still
// holds it, and returns ErrLockLost if not.
func (s *Store) RenewSending(ctx context.Context, person, token string, ttl time.Duration) error {
	n, err := renewScript.Run(ctx, s.rdb, []string{s.pkey(person, kSLock)}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("renew sending lock: %w", err)
	}
	if n == 0 {
		return ErrLockLost
	}
	return nil
}

// UnlockSending releases the person's sending lock if token holds it.
func (s *Store) UnlockSending(ctx context.Context, person, token string) error {
	return unlockScript.Run(ctx, s.rdb, []string{s.pkey(person, kSLock)}, token).Err()
}

// DeletePerson erases every key of a person.
func (s *Store) DeletePerson(ctx context.Context, person string) error {
	keys := make([]string, 0, len(PersonKeys))
	for _, k := range PersonKeys {
		keys = append(keys, s.pkey(person, k))
	}
	return s.rdb.Del(ctx, keys...).Err()
}

// PersonKeyNames returns the Redis keys a person owns (for audits and tests).
func (s *Store) PersonKeyNames(person string) []string {
	keys := make([]string, 0, len(PersonKeys))
	for _, k := range PersonKeys {
		keys = append(keys, s.pkey(person, k))
	}
	return keys
}
