package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Series are the broadcast service's recurring rounds, one hash each:
// "reminders" (the rights reminders: on, every, audience, round, next) and
// "jobs:digest" (the job digest: round, next, since).

func (s *Store) remindersKey() string { return s.Key("reminders") }
func (s *Store) digestKey() string    { return s.Key("jobs", "digest") }

// Series is a series' state.
type Series struct {
	On       bool   // reminders: switched on
	Every    string // reminders: how often, as staff gave it
	Audience []byte // reminders: who gets them, as the service encodes it
	Round    int    // rounds started
	// Next is when the next round is due, Since (the digest) when the
	// last one started; zero when unset.
	Next, Since time.Time
}

func readSeries(m map[string]string) Series {
	r := Series{On: m["on"] == "1", Every: m["every"], Next: Millis(m["next"]), Since: Millis(m["since"])}
	r.Round, _ = strconv.Atoi(m["round"])
	if m["audience"] != "" {
		r.Audience = []byte(m["audience"])
	}
	return r
}

// Reminders returns the reminder series' state.
func (s *Store) Reminders(ctx context.Context) (Series, error) {
	m, err := s.rdb.HGetAll(ctx, s.remindersKey()).Result()
	if err != nil {
		return Series{}, fmt.Errorf("read reminders: %w", err)
	}
	return readSeries(m), nil
}

// StartReminders switches the reminder series on, every every, for
// audience, the next round at next; the rotation goes on where it stopped.
func (s *Store) StartReminders(ctx context.Context, every string, audience []byte, next time.Time) error {
	err := s.rdb.HSet(ctx, s.remindersKey(), "on", "1", "every", every, "audience", string(audience), "next", next.UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("start reminders: %w", err)
	}
	return nil
}

// StopReminders switches the reminder series off.
func (s *Store) StopReminders(ctx context.Context) error {
	if err := s.rdb.HSet(ctx, s.remindersKey(), "on", "0").Err(); err != nil {
		return fmt.Errorf("stop reminders: %w", err)
	}
	return nil
}

// Digest returns the job digest series' state, first setting it up (next
// round at first, counting jobs since since) when it has none.
func (s *Store) Digest(ctx context.Context, first, since time.Time) (Series, error) {
	pipe := s.rdb.Pipeline()
	pipe.HSetNX(ctx, s.digestKey(), "next", first.UnixMilli())
	pipe.HSetNX(ctx, s.digestKey(), "since", since.UnixMilli())
	all := pipe.HGetAll(ctx, s.digestKey())
	if _, err := pipe.Exec(ctx); err != nil {
		return Series{}, fmt.Errorf("read digest: %w", err)
	}
	return readSeries(all.Val()), nil
}

// advanceSeriesScript moves a series to its next round when its round
// counter is still ARGV[1]. KEYS: series hash. ARGV: round read, next
// round, next due ms, extra field, extra value.
var advanceSeriesScript = redis.NewScript(`
if (redis.call('HGET', KEYS[1], 'round') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'round', ARGV[2], 'next', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[4], ARGV[5]) end
return 1
`)

// AdvanceReminders moves the reminder series from round to the next, due
// at next; nothing changes when another process moved it already.
func (s *Store) AdvanceReminders(ctx context.Context, round int, next time.Time) error {
	err := advanceSeriesScript.Run(ctx, s.rdb, []string{s.remindersKey()}, strconv.Itoa(round), round+1, next.UnixMilli(), "", "").Err()
	if err != nil {
		return fmt.Errorf("advance reminders: %w", err)
	}
	return nil
}

// AdvanceDigest moves the digest from round to the next, due at next,
// counting jobs from since; nothing changes when another process moved it
// already.
func (s *Store) AdvanceDigest(ctx context.Context, round int, next, since time.Time) error {
	err := advanceSeriesScript.Run(ctx, s.rdb, []string{s.digestKey()}, strconv.Itoa(round), round+1, next.UnixMilli(), "since", since.UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("advance digest: %w", err)
	}
	return nil
}
