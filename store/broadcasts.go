package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Broadcasts are the broadcast service's. A broadcast's own keys share the
// hash tag {bc:<id>}: meta (hash: plan, status, send_at, created, source,
// kind, the scan cursor and the outcome counts), chunks (stream of
// comma-joined person ids read through a consumer group), done (the
// sent-set: every person served, sent or skipped), later (zset of people
// waiting for the end of their quiet hours, by due time) and scan (the
// fan-out lease). The global sets "bc:active" (broadcasts to work on) and
// "bc:all" (every broadcast by creation time) index them.

// BroadcastServed is what CheckBroadcast says of a person already served.
const BroadcastServed = "served"

// chunkGroup is the consumer group of every chunk stream.
const chunkGroup = "senders"

func (s *Store) broadcastKey(id, part string) string { return s.Key("{bc:"+id+"}", part) }
func (s *Store) activeBroadcastsKey() string         { return s.Key("bc", "active") }
func (s *Store) allBroadcastsKey() string            { return s.Key("bc", "all") }

// BroadcastMetaKey is a broadcast's hash (for tests that look inside).
func (s *Store) BroadcastMetaKey(id string) string { return s.broadcastKey(id, "meta") }

// NewBroadcast is a broadcast to store.
type NewBroadcast struct {
	ID      string
	Kind    string
	Plan    []byte // what to send, as the broadcast service encodes it
	Status  string // scheduled or sending
	SendAt  time.Time
	Created time.Time
	// Source is the set of person ids the audience is read from
	// (PeopleKey, or any set of ids).
	Source string
}

// createBroadcastScript stores a broadcast once and makes its chunk
// stream. KEYS: meta, chunks. ARGV: plan, status, send_at, created,
// source, group, kind.
var createBroadcastScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'plan', ARGV[1], 'status', ARGV[2], 'send_at', ARGV[3], 'created', ARGV[4],
  'source', ARGV[5], 'cursor', '0', 'scanned', '0', 'kind', ARGV[7], 'queued', 0, 'sent', 0, 'skipped', 0, 'failed', 0)
redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[6], '0', 'MKSTREAM')
return 1
`)

// CreateBroadcast stores b once (a second call with its id changes
// nothing and reports false) and makes it active.
func (s *Store) CreateBroadcast(ctx context.Context, b NewBroadcast) (bool, error) {
	n, err := createBroadcastScript.Run(ctx, s.rdb, []string{s.broadcastKey(b.ID, "meta"), s.broadcastKey(b.ID, "chunks")},
		b.Plan, b.Status, b.SendAt.UnixMilli(), b.Created.UnixMilli(), b.Source, chunkGroup, b.Kind).Int()
	if err != nil {
		return false, fmt.Errorf("create broadcast: %w", err)
	}
	// The indexes are global keys, so they are written apart from the
	// broadcast's own (one Redis Cluster slot per script).
	pipe := s.rdb.Pipeline()
	pipe.SAdd(ctx, s.activeBroadcastsKey(), b.ID)
	pipe.ZAddNX(ctx, s.allBroadcastsKey(), redis.Z{Score: float64(b.Created.UnixMilli()), Member: b.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("create broadcast: %w", err)
	}
	return n == 1, nil
}

// BroadcastRecord is a broadcast's state and counts.
type BroadcastRecord struct {
	ID, Kind, Status      string
	Sent, Skipped, Failed int64
	Waiting               int64 // people waiting for the end of their quiet hours
	SendAt, Created       time.Time
	Scanned               bool // the whole audience is read into chunks
}

// Broadcast returns a broadcast's state in one round trip, or nil when
// there is none.
func (s *Store) Broadcast(ctx context.Context, id string) (*BroadcastRecord, error) {
	pipe := s.rdb.Pipeline()
	m := pipe.HMGet(ctx, s.broadcastKey(id, "meta"), "kind", "status", "sent", "skipped", "failed", "send_at", "created", "scanned")
	w := pipe.ZCard(ctx, s.broadcastKey(id, "later"))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read broadcast: %w", err)
	}
	v := m.Val()
	if v[1] == nil {
		return nil, nil
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	num := func(i int) int64 { n, _ := strconv.ParseInt(str(i), 10, 64); return n }
	return &BroadcastRecord{ID: id, Kind: str(0), Status: str(1), Sent: num(2), Skipped: num(3), Failed: num(4),
		Waiting: w.Val(), SendAt: time.UnixMilli(num(5)).UTC(), Created: time.UnixMilli(num(6)).UTC(), Scanned: str(7) == "1"}, nil
}

// BroadcastPlan returns what a broadcast sends, as CreateBroadcast was
// given it, and its audience's source set.
func (s *Store) BroadcastPlan(ctx context.Context, id string) (plan []byte, source string, err error) {
	v, err := s.rdb.HMGet(ctx, s.broadcastKey(id, "meta"), "plan", "source").Result()
	if err != nil {
		return nil, "", fmt.Errorf("read broadcast plan: %w", err)
	}
	p, _ := v[0].(string)
	source, _ = v[1].(string)
	return []byte(p), source, nil
}

// LatestBroadcasts returns the ids of up to limit broadcasts, newest first.
func (s *Store) LatestBroadcasts(ctx context.Context, limit int) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.allBroadcastsKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", err)
	}
	return ids, nil
}

// ActiveBroadcasts returns the ids of the broadcasts to work on.
func (s *Store) ActiveBroadcasts(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.activeBroadcastsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list active broadcasts: %w", err)
	}
	return ids, nil
}

// DeactivateBroadcast takes a broadcast out of the active set.
func (s *Store) DeactivateBroadcast(ctx context.Context, id string) error {
	if err := s.rdb.SRem(ctx, s.activeBroadcastsKey(), id).Err(); err != nil {
		return fmt.Errorf("deactivate broadcast: %w", err)
	}
	return nil
}

// transitionBroadcastScript moves the status to ARGV[1] when it is one of
// ARGV[3..]; "sending" becomes "scheduled" while send_at (ms) is after
// ARGV[2]. It returns "ok", the current status when the move is refused,
// or "" for an unknown broadcast.
var transitionBroadcastScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return '' end
for i = 3, #ARGV do
  if cur == ARGV[i] then
    local to = ARGV[1]
    if to == 'sending' and tonumber(redis.call('HGET', KEYS[1], 'send_at') or '0') > tonumber(ARGV[2]) then
      to = 'scheduled'
    end
    redis.call('HSET', KEYS[1], 'status', to)
    return 'ok'
  end
end
return cur
`)

// SetBroadcastStatus moves a broadcast to status to when its status is
// one of from ("sending" is "scheduled" while its send time is after now).
// It reports whether it moved, and else the status it has ("" for an
// unknown broadcast).
func (s *Store) SetBroadcastStatus(ctx context.Context, id, to string, now time.Time, from ...string) (moved bool, cur string, err error) {
	args := []any{to, now.UnixMilli()}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := transitionBroadcastScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "meta")}, args...).Text()
	if err != nil {
		return false, "", fmt.Errorf("change broadcast status: %w", err)
	}
	if res == "ok" {
		return true, to, nil
	}
	return false, res, nil
}

// EndBroadcast drops a finished broadcast's working keys and takes it out
// of the active set; its counts stay readable for keep.
func (s *Store) EndBroadcast(ctx context.Context, id string, keep time.Duration) error {
	pipe := s.rdb.Pipeline()
	pipe.Del(ctx, s.broadcastKey(id, "chunks"), s.broadcastKey(id, "done"), s.broadcastKey(id, "later"), s.broadcastKey(id, "scan"))
	pipe.SRem(ctx, s.activeBroadcastsKey(), id)
	pipe.Expire(ctx, s.broadcastKey(id, "meta"), keep)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("end broadcast: %w", err)
	}
	return nil
}

// LeaseBroadcastScan takes the broadcast's fan-out lease for ttl under
// token; false when another holds it. It returns the stored scan cursor.
func (s *Store) LeaseBroadcastScan(ctx context.Context, id, token string, ttl time.Duration) (ok bool, cursor string, err error) {
	ok, err = s.rdb.SetNX(ctx, s.broadcastKey(id, "scan"), token, ttl).Result()
	if err != nil || !ok {
		return false, "", err
	}
	cursor, err = s.rdb.HGet(ctx, s.broadcastKey(id, "meta"), "cursor").Result()
	if err != nil {
		return true, "", fmt.Errorf("read scan cursor: %w", err)
	}
	return true, cursor, nil
}

// ReleaseBroadcastScan gives the fan-out lease back if token holds it.
func (s *Store) ReleaseBroadcastScan(ctx context.Context, id, token string) error {
	return unlockScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "scan")}, token).Err()
}

// ScanAudience reads up to about count person ids of the set source from
// cursor (SSCAN; 0 starts, and a next of 0 means the set is read).
//
// The source PeopleKey is everyone, read shard by shard.
func (s *Store) ScanAudience(ctx context.Context, source string, cursor uint64, count int) (ids []string, next uint64, err error) {
	if source == s.PeopleKey() {
		ids, next, err = s.scanShards(ctx, "people", cursor, count)
	} else {
		ids, next, err = s.rdb.SScan(ctx, source, cursor, "", int64(count)).Result()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read audience: %w", err)
	}
	return ids, next, nil
}

// addChunkScript appends one batch of the audience as a chunk and moves
// the stored scan cursor on, in one step, so a crash between batches
// neither skips nor repeats one. It only writes while the caller holds the
// scan lease and the stored cursor is the one it read.
// KEYS: meta, chunks, scan. ARGV: token, cursor read, next cursor, count,
// payload, lease ms.
var addChunkScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'sending' then return -3 end
if redis.call('HGET', KEYS[1], 'cursor') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'scanned') == '1' then return -2 end
local n = tonumber(ARGV[4])
if n > 0 then
  redis.call('XADD', KEYS[2], '*', 'p', ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'queued', n)
end
redis.call('HSET', KEYS[1], 'cursor', ARGV[3])
if ARGV[3] == '0' then redis.call('HSET', KEYS[1], 'scanned', '1') end
redis.call('PEXPIRE', KEYS[3], ARGV[6])
return 1
`)

// AddChunk queues people (read from cursor, up to next) as one chunk and
// stores next as the cursor, renewing the lease token holds for lease. It
// reports false, writing nothing, when the lease was lost, the cursor
// moved or the broadcast is not sending.
func (s *Store) AddChunk(ctx context.Context, id, token, cursor, next string, people []string, lease time.Duration) (bool, error) {
	res, err := addChunkScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "meta"), s.broadcastKey(id, "chunks"), s.broadcastKey(id, "scan")},
		token, cursor, next, len(people), strings.Join(people, ","), lease.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("add chunk: %w", err)
	}
	return res > 0, nil
}

// BroadcastChunks is the queue of a broadcast's chunks (each entry's
// payload comma-joined person ids). It vanishes when the broadcast ends:
// reads find nothing then.
func (s *Store) BroadcastChunks(id string) *Queue {
	return &Queue{rdb: s.rdb, Streams: []string{s.broadcastKey(id, "chunks")}, Group: chunkGroup, fixed: true}
}

// BroadcastServed reports, for each person, whether the broadcast served
// them already (sent or skipped), in one round trip.
func (s *Store) BroadcastServed(ctx context.Context, id string, people []string) ([]bool, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, len(people))
	for i, p := range people {
		cmds[i] = pipe.SIsMember(ctx, s.broadcastKey(id, "done"), p)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read sent-set: %w", err)
	}
	out := make([]bool, len(people))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// checkBroadcastScript is the check before a send: "served" when the
// person is in the sent-set, else the broadcast's status.
// KEYS: meta, done. ARGV: person.
var checkBroadcastScript = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'served' end
return redis.call('HGET', KEYS[1], 'status') or ''
`)

// CheckBroadcast is the check just before a send to person: it returns
// BroadcastServed when they were served already, else the broadcast's
// status ("" when it is gone).
func (s *Store) CheckBroadcast(ctx context.Context, id, person string) (string, error) {
	res, err := checkBroadcastScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "meta"), s.broadcastKey(id, "done")}, person).Text()
	if err != nil {
		return "", fmt.Errorf("check broadcast: %w", err)
	}
	return res, nil
}

// markBroadcastScript records a person's outcome right after the send: it
// adds them to the sent-set and counts the outcome the first time only.
// KEYS: meta, done, later. ARGV: person, outcome field.
var markBroadcastScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
redis.call('ZREM', KEYS[3], ARGV[1])
if st ~= 'sending' and st ~= 'paused' then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
  return 1
end
return 0
`)

// MarkBroadcast records person as served with outcome (the count it adds
// to: sent, skipped or failed), once, while the broadcast is sending or
// paused.
func (s *Store) MarkBroadcast(ctx context.Context, id, person, outcome string) error {
	err := markBroadcastScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "meta"), s.broadcastKey(id, "done"), s.broadcastKey(id, "later")},
		person, outcome).Err()
	if err != nil {
		return fmt.Errorf("mark broadcast: %w", err)
	}
	return nil
}

// deferBroadcastScript puts a person in the waiting set until ARGV[2]
// (ms), unless they were served. ARGV[3] = "nx" keeps an existing due
// time. KEYS: meta, done, later. ARGV: person, due, mode.
var deferBroadcastScript = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
local st = redis.call('HGET', KEYS[1], 'status')
if st ~= 'sending' and st ~= 'paused' then return 0 end
if ARGV[3] == 'nx' then
  return redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[1])
end
return redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
`)

// DeferBroadcast makes person wait until until (the end of their quiet
// hours), unless served; keep leaves a wait already set as it is.
func (s *Store) DeferBroadcast(ctx context.Context, id, person string, until time.Time, keep bool) error {
	mode := "set"
	if keep {
		mode = "nx"
	}
	err := deferBroadcastScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "meta"), s.broadcastKey(id, "done"), s.broadcastKey(id, "later")},
		person, until.UnixMilli(), mode).Err()
	if err != nil {
		return fmt.Errorf("defer broadcast: %w", err)
	}
	return nil
}

// DropWaiting takes person out of the broadcast's waiting set.
func (s *Store) DropWaiting(ctx context.Context, id, person string) error {
	if err := s.rdb.ZRem(ctx, s.broadcastKey(id, "later"), person).Err(); err != nil {
		return fmt.Errorf("drop waiting: %w", err)
	}
	return nil
}

// claimWaitingScript takes up to ARGV[3] people whose wait is over and
// leases them for ARGV[2] ms (their due time moves on), so one process
// serves each and a crashed one's people come back.
// KEYS: later. ARGV: now ms, lease ms, count.
var claimWaitingScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, p in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), p)
end
return due
`)

// ClaimWaiting takes up to count people whose wait ended by now, leased
// for lease: until then no other process takes them.
func (s *Store) ClaimWaiting(ctx context.Context, id string, now time.Time, lease time.Duration, count int) ([]string, error) {
	due, err := claimWaitingScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "later")}, now.UnixMilli(), lease.Milliseconds(), count).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim waiting: %w", err)
	}
	return due, nil
}

// finishBroadcastScript marks a broadcast done once its audience is read,
// every chunk handled and nobody waits. KEYS: meta, chunks, later. ARGV:
// now ms.
var finishBroadcastScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'sending' or redis.call('HGET', KEYS[1], 'scanned') ~= '1' then return 0 end
if redis.call('XLEN', KEYS[2]) > 0 or redis.call('ZCARD', KEYS[3]) > 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'done', 'finished', ARGV[1])
return 1
`)

// FinishBroadcast marks a sending broadcast done at now when its audience
// is read, every chunk handled and nobody waits; it reports whether it did.
func (s *Store) FinishBroadcast(ctx context.Context, id string, now time.Time) (bool, error) {
	n, err := finishBroadcastScript.Run(ctx, s.rdb, []string{s.broadcastKey(id, "meta"), s.broadcastKey(id, "chunks"), s.broadcastKey(id, "later")},
		now.UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("finish broadcast: %w", err)
	}
	return n == 1, nil
}
