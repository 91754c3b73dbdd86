package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// What the load test (bot/loadtest) measures and coordinates with, on a
// namespace of its own: the memory keys take, the pool of connections,
// the steps several processes wait for each other at, and the clean-up.

// Empty reports whether the namespace has no keys.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	iter := s.rdb.Scan(ctx, 0, s.ns+":*", 1000).Iterator()
	if iter.Next(ctx) {
		return false, nil
	}
	return true, iter.Err()
}

// DeleteAll deletes every key of the namespace.
func (s *Store) DeleteAll(ctx context.Context) error {
	iter := s.rdb.Scan(ctx, 0, s.ns+":*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.rdb.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return flush()
}

// MemoryUsage returns the bytes each key takes (MEMORY USAGE, SAMPLES 0),
// in one round trip; -1 for a key that does not exist.
func (s *Store) MemoryUsage(ctx context.Context, keys []string) ([]int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.MemoryUsage(ctx, k, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("memory usage: %w", err)
	}
	out := make([]int64, len(keys))
	for i, c := range cmds {
		v, err := c.Result()
		switch {
		case errors.Is(err, redis.Nil):
			v = -1
		case err != nil:
			return nil, fmt.Errorf("memory usage: %w", err)
		}
		out[i] = v
	}
	return out, nil
}

// SharedKeyBytes returns the bytes each key of the namespace that is not a
// person's takes, by name without the namespace; keys under any of the
// prefixes skip (inside the namespace) are left out.
func (s *Store) SharedKeyBytes(ctx context.Context, skip ...string) (map[string]int64, error) {
	out := map[string]int64{}
	iter := s.rdb.Scan(ctx, 0, s.ns+":*", 1000).Iterator()
	for iter.Next(ctx) {
		name := strings.TrimPrefix(iter.Val(), s.ns+":")
		if strings.HasPrefix(name, "{u:") || slicesHasPrefix(name, skip) {
			continue
		}
		v, err := s.rdb.MemoryUsage(ctx, iter.Val(), 0).Result()
		if err != nil {
			if errors.Is(err, redis.Nil) {
				continue
			}
			return nil, err
		}
		out[name] = v
	}
	return out, iter.Err()
}

func slicesHasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// UsedMemory is the server's used_memory (0 when it cannot be read).
func (s *Store) UsedMemory(ctx context.Context) uint64 {
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// FillPool opens every connection of the client's pool (each holds read
// and write buffers), so that a heap baseline taken after it has them all.
func (s *Store) FillPool(ctx context.Context) {
	size := 10 * runtime.GOMAXPROCS(0) // go-redis's default
	if c, ok := s.rdb.(*redis.Client); ok {
		size = c.Options().PoolSize
	}
	var wg sync.WaitGroup
	for range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.rdb.Do(ctx, "BLPOP", s.Key("loadtest", "warm"), "0.1").Err() // an empty wait, to hold a connection
		}()
	}
	wg.Wait()
}

// Arrive counts this process at step (a barrier several processes share).
func (s *Store) Arrive(ctx context.Context, step string) error {
	return s.rdb.Incr(ctx, s.Key("loadtest", "barrier", step)).Err()
}

// Arrived returns how many processes arrived at step.
func (s *Store) Arrived(ctx context.Context, step string) (int, error) {
	n, err := s.rdb.Get(ctx, s.Key("loadtest", "barrier", step)).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	return n, nil
}
