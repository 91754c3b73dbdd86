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

// layoutVersion names the key layout this code writes: 3 is the sharded
// one ("{sNN}" hash tags, Shards of them) without sets of each topic's
// subscribers (the profiles say who subscribed). Layout 1 kept each person
// under "{u:<id>}" and the queues, people index and check-in set as single
// global keys, which Redis Cluster could not run; layout 2 was sharded and
// kept the topic sets.
const layoutVersion = "3"

// Migrate brings a Redis written by an earlier Lifeline to this layout,
// once: it renames every person's keys into their shard, moves the entries
// of the global queues into the shards' (pending or not: a moved entry is
// new to its group, so an entry being handled when the old process stopped
// is handled again, which finds nothing left to do), and spreads the
// people index and the check-in set over the shards. A Redis with nothing
// of layout 1 (a new one, or a cluster, which layout 1 refused) is only
// marked. It reports how many keys and entries it moved.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	mark := s.Key("layout")
	v, err := s.rdb.Get(ctx, mark).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read layout: %w", err)
	}
	if v == layoutVersion {
		return 0, nil
	}
	// One process migrates; another waits for the mark.
	lock := s.Key("layout", "lock")
	ok, err := s.rdb.SetNX(ctx, lock, "1", time.Minute).Result()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if !ok {
		for ctx.Err() == nil {
			sleep(ctx, 200*time.Millisecond)
			if v, _ := s.rdb.Get(ctx, mark).Result(); v == layoutVersion {
				return 0, nil
			}
		}
		return 0, ctx.Err()
	}
	defer s.rdb.Del(context.WithoutCancel(ctx), lock)
	n := 0
	if _, cluster := s.rdb.(*redis.ClusterClient); v == "" && !cluster {
		// Layout 1 never ran on a cluster, which it refused.
		if n, err = s.migrate1(ctx); err != nil {
			return n, fmt.Errorf("migrate to layout 2: %w", err)
		}
	}
	// Layouts 1 and 2 kept a set of each topic's subscribers.
	var topics []string
	if err := s.eachKey(ctx, s.ns+":sub:*", func(key string) error { topics = append(topics, key); return nil }); err != nil {
		return n, fmt.Errorf("migrate to layout 3: %w", err)
	}
	for _, k := range topics {
		if err := s.rdb.Unlink(ctx, k).Err(); err != nil {
			return n, fmt.Errorf("migrate to layout 3: %w", err)
		}
		n++
	}
	return n, s.rdb.Set(ctx, mark, layoutVersion, 0).Err()
}

func (s *Store) migrate1(ctx context.Context) (int, error) {
	n := 0
	// People's keys: "<ns>:{u:<id>}:<suffix>".
	var renames [][2]string
	err := s.eachKey(ctx, s.ns+":{u:*", func(key string) error {
		rest := strings.TrimPrefix(key, s.ns+":{u:")
		id, suffix, ok := strings.Cut(rest, "}:")
		if ok {
			renames = append(renames, [2]string{key, s.pkey(id, suffix)})
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	// Cases: "case:<alias>[:excerpt|:log]", "case:timers", "cases:open"
	// and coaches' records "coach:<pseudonym>" go under {case}.
	err = s.eachKey(ctx, s.ns+":case*", func(key string) error {
		name := strings.TrimPrefix(key, s.ns+":")
		switch {
		case name == "case:timers":
			renames = append(renames, [2]string{key, s.caseTimersKey()})
		case name == "cases:open":
			renames = append(renames, [2]string{key, s.openCasesKey()})
		case strings.HasPrefix(name, "case:"):
			renames = append(renames, [2]string{key, s.Key("{case}", "c", strings.TrimPrefix(name, "case:"))})
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	err = s.eachKey(ctx, s.ns+":coach:*", func(key string) error {
		name := strings.TrimPrefix(key, s.ns+":coach:")
		if name != "in" && !strings.HasPrefix(name, "seen:") {
			renames = append(renames, [2]string{key, s.coachKey(name)})
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	// Staff accounts, their console sessions, sign-in links and API tokens
	// go under {acct}.
	for old, to := range map[string]string{"acct:": "a:", "csess:": "sess:", "link:": "link:", "apitoken:": "token:"} {
		err = s.eachKey(ctx, s.ns+":"+old+"*", func(key string) error {
			renames = append(renames, [2]string{key, s.Key("{acct}", to+strings.TrimPrefix(key, s.ns+":"+old))})
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	renames = append(renames, [2]string{s.Key("accts"), s.Key("{acct}", "all")})
	for _, r := range renames {
		if err := s.rdb.Rename(ctx, r[0], r[1]).Err(); err != nil && !strings.Contains(err.Error(), "no such key") {
			return n, err
		}
		n++
	}
	// Queues: work and outbound entries name their person; escalations and
	// effects are sealed, and any shard serves them.
	streams := map[string]func(payload string) string{
		s.Key("work"):        func(p string) string { return s.workOf(p) },
		s.Key("effects"):     func(string) string { return s.shardKey(0, "effects") },
		s.Key("cases"):       func(string) string { return s.shardKey(0, "cases") },
		s.Key("coach", "in"): func(string) string { return s.CoachQueue().Streams[0] },
	}
	err = s.eachKey(ctx, s.ns+":out:*", func(key string) error {
		ch := strings.TrimPrefix(key, s.ns+":out:")
		streams[key] = func(p string) string { return s.outOf(p, ch) }
		return nil
	})
	if err != nil {
		return n, err
	}
	for old, to := range streams {
		msgs, err := s.rdb.XRange(ctx, old, "-", "+").Result()
		if err != nil {
			return n, err
		}
		for _, m := range msgs {
			p, _ := m.Values["p"].(string)
			if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: to(p), Values: []any{"p", p}}).Err(); err != nil {
				return n, err
			}
			n++
		}
		if err := s.rdb.Del(ctx, old).Err(); err != nil {
			return n, err
		}
	}
	// The people index.
	old := s.Key("people")
	err = s.eachMember(ctx, old, 500, func(p string) error {
		n++
		return s.rdb.SAdd(ctx, s.peopleOf(p), p).Err()
	})
	if err != nil {
		return n, err
	}
	if err := s.rdb.Del(ctx, old).Err(); err != nil {
		return n, err
	}
	// Check-ins: due items "<kind>|<person>", and claimed ones
	// "<due>|<kind>|<person>", which go back to due.
	due, inflight := s.Key("{ci}", "due"), s.Key("{ci}", "inflight")
	items, err := s.rdb.ZRangeWithScores(ctx, due, 0, -1).Result()
	if err != nil {
		return n, err
	}
	claimed, err := s.rdb.ZRange(ctx, inflight, 0, -1).Result()
	if err != nil {
		return n, err
	}
	put := func(z redis.Z, nx bool) error {
		m, _ := z.Member.(string)
		_, person, _ := strings.Cut(m, "|")
		n++
		if nx { // a claimed item rescheduled since keeps its new time
			return s.rdb.ZAddNX(ctx, s.checkinDueKey(ShardOf(person)), z).Err()
		}
		return s.rdb.ZAdd(ctx, s.checkinDueKey(ShardOf(person)), z).Err()
	}
	for _, z := range items {
		if err := put(z, false); err != nil {
			return n, err
		}
	}
	for _, m := range claimed {
		score, member, _ := strings.Cut(m, "|")
		at, _ := strconv.ParseFloat(score, 64)
		if err := put(redis.Z{Score: at, Member: member}, true); err != nil {
			return n, err
		}
	}
	return n, s.rdb.Del(ctx, due, inflight).Err()
}
