package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Check-ins are the check-in scheduler's: each person's schedule state is
// in their own profile (fields "ci.*", UpdateProfile), and their pending
// items in their shard's sorted set "{sNN}:ci:due" as "<kind>|<person>"
// scored by due time (in the person's slot, so the profile and the item
// change in one transaction on Redis Cluster too). A process claims due
// items into the shard's "{sNN}:ci:inflight" (scored by the end of its
// lease, each member prefixed with its due score) and removes them there
// once handled; items whose lease ran out go back to the due set. The
// figures are hashes "ci:stats:<ISO week>" of counters that never name a
// person.

func (s *Store) checkinDueKey(shard int) string      { return s.shardKey(shard, "ci:due") }
func (s *Store) checkinInflightKey(shard int) string { return s.shardKey(shard, "ci:inflight") }

// CheckinsPending counts the check-in items scheduled, over every shard.
func (s *Store) CheckinsPending(ctx context.Context) (int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, Shards)
	for i := range cmds {
		cmds[i] = pipe.ZCard(ctx, s.checkinDueKey(i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("count check-ins: %w", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// CheckinStatsKey is the hash of a week's check-in figures.
func (s *Store) CheckinStatsKey(week string) string { return s.Key("ci", "stats", week) }

// CheckinItem is one of a person's pending check-in items: its kind and
// when it is due (zero: none pending).
type CheckinItem struct {
	Kind string
	Due  time.Time
}

// SetCheckinItems makes the due set hold exactly the items given for a
// person: each with a due time is (re)scheduled, each without removed.
func (s *Store) SetCheckinItems(ctx context.Context, person string, items []CheckinItem) error {
	pipe := s.rdb.Pipeline()
	s.setCheckinItems(ctx, pipe, person, items)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("set check-in items: %w", err)
	}
	return nil
}

func (s *Store) setCheckinItems(ctx context.Context, pipe redis.Pipeliner, person string, items []CheckinItem) {
	due := s.checkinDueKey(ShardOf(person))
	for _, it := range items {
		member := it.Kind + "|" + person
		if it.Due.IsZero() {
			pipe.ZRem(ctx, due, member)
		} else {
			pipe.ZAdd(ctx, due, redis.Z{Score: float64(it.Due.UnixMilli()), Member: member})
		}
	}
}

// ClaimedCheckin is a check-in item a process took to handle.
type ClaimedCheckin struct {
	// Claim names the claim, for CheckinDone.
	Claim string
	// Due is the item's due time as scheduled (Unix milliseconds, as the
	// profile keeps it), Kind and Person as given to SetCheckinItems.
	Due, Kind, Person string
}

// claimCheckinsScript takes up to ARGV[3] items due by ARGV[1] out of the
// due set into the in-flight set (scored by lease end, the member prefixed
// with its due score), in one step, so two processes never take the same
// item. It first puts back items whose lease ran out.
var claimCheckinsScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, m in ipairs(stale) do
  local score, member = string.match(m, '^([^|]*)|(.*)$')
  redis.call('ZREM', KEYS[2], m)
  if redis.call('ZSCORE', KEYS[1], member) == false then
    redis.call('ZADD', KEYS[1], score, member)
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #due, 2 do
  redis.call('ZREM', KEYS[1], due[i])
  local m = string.format('%d', tonumber(due[i + 1])) .. '|' .. due[i]
  redis.call('ZADD', KEYS[2], ARGV[2], m)
  out[#out + 1] = m
end
return out
`)

// ClaimCheckins takes up to count items due by now, leased until
// leaseEnd: until then no other process takes them, after it they are due
// again unless CheckinDone removed them. Shards are visited from a
// different one each call, so a busy shard does not starve the others.
func (s *Store) ClaimCheckins(ctx context.Context, now, leaseEnd time.Time, count int) ([]ClaimedCheckin, error) {
	var out []ClaimedCheckin
	first := int(s.ciTurn.Add(1))
	for k := 0; k < Shards && len(out) < count; k++ {
		shard := (first + k) % Shards
		res, err := claimCheckinsScript.Run(ctx, s.rdb, []string{s.checkinDueKey(shard), s.checkinInflightKey(shard)},
			now.UnixMilli(), leaseEnd.UnixMilli(), count-len(out)).StringSlice()
		if err != nil {
			return out, fmt.Errorf("claim check-ins: %w", err)
		}
		for _, m := range res {
			c := ClaimedCheckin{Claim: m}
			var rest string
			c.Due, rest, _ = strings.Cut(m, "|")
			c.Kind, c.Person, _ = strings.Cut(rest, "|")
			out = append(out, c)
		}
	}
	return out, nil
}

// CheckinDone removes a handled claim.
func (s *Store) CheckinDone(ctx context.Context, claim string) error {
	_, rest, _ := strings.Cut(claim, "|")
	_, person, _ := strings.Cut(rest, "|")
	if err := s.rdb.ZRem(ctx, s.checkinInflightKey(ShardOf(person)), claim).Err(); err != nil {
		return fmt.Errorf("check-in done: %w", err)
	}
	return nil
}

// CountCheckins adds counts to a week's figures (field: counter name and
// the dimensions it is kept under).
func (s *Store) CountCheckins(ctx context.Context, week string, counts map[string]int64) error {
	key := s.CheckinStatsKey(week)
	pipe := s.rdb.Pipeline()
	for field, n := range counts {
		if n != 0 {
			pipe.HIncrBy(ctx, key, field, n)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("count check-ins: %w", err)
	}
	return nil
}

// CheckinFigures returns the counters of each week, in one round trip.
func (s *Store) CheckinFigures(ctx context.Context, weeks []string) ([]map[string]string, error) {
	keys := make([]string, len(weeks))
	for i, w := range weeks {
		keys[i] = s.CheckinStatsKey(w)
	}
	out, err := s.hashes(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read figures: %w", err)
	}
	return out, nil
}
