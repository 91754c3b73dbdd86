package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the load test (bot/loadtest) measures and coordinates with, on a
// namespace of its own: the memory keys take, the pool of connections,
// the steps several processes wait for each other at, and the clean-up.

// Empty reports whether the namespace has no keys.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	errFound := errors.New("found")
	err := s.eachKey(ctx, s.ns+":*", func(string) error { return errFound })
	if errors.Is(err, errFound) {
		return false, nil
	}
	return err == nil, err
}

// DeleteAll deletes every key of the namespace.
func (s *Store) DeleteAll(ctx context.Context) error {
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// One UNLINK a key: a cluster refuses one naming several slots.
		pipe := s.rdb.Pipeline()
		for _, k := range batch {
			pipe.Unlink(ctx, k)
		}
		_, err := pipe.Exec(ctx)
		batch = batch[:0]
		return err
	}
	err := s.eachKey(ctx, s.ns+":*", func(key string) error {
		batch = append(batch, key)
		if len(batch) == 500 {
			return flush()
		}
		return nil
	})
	if err != nil {
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
// person's takes, by name without the namespace (the shards' keys of one
// name summed under it, as "work"); keys under any of the
// prefixes skip (inside the namespace) are left out.
func (s *Store) SharedKeyBytes(ctx context.Context, skip ...string) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.eachKey(ctx, s.ns+":*", func(key string) error {
		name := strings.TrimPrefix(key, s.ns+":")
		if isPersonKey(name) || slicesHasPrefix(name, skip) {
			return nil
		}
		v, err := s.rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			if errors.Is(err, redis.Nil) {
				return nil
			}
			return err
		}
		if isShardKey(name) {
			name = name[6:] // the shards' keys of one name together
		}
		out[name] += v
		return nil
	})
	return out, err
}

// isShardKey reports whether a key name (without the namespace) is a
// shard's: "{sNN}:<name>".
func isShardKey(name string) bool { return len(name) > 6 && name[0] == '{' && name[4:6] == "}:" }

// isPersonKey reports whether a key name (without the namespace) is one of
// a person's: "{sNN}:u:<id>:<suffix>".
func isPersonKey(name string) bool {
	return len(name) > 8 && name[0] == '{' && name[4:8] == "}:u:"
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

// UsedCPU is the CPU time Redis has used since it started (user and
// system, INFO's used_cpu_user and used_cpu_sys), summed over the
// masters on Redis Cluster; 0 when Redis does not say.
func (s *Store) UsedCPU(ctx context.Context) time.Duration {
	var mu sync.Mutex
	var total float64
	add := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
				f, _ := strconv.ParseFloat(v, 64)
				mu.Lock()
				total += f
				mu.Unlock()
			}
		}
		return nil
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, add)
	case *redis.Client:
		err = add(ctx, c)
	default:
		return 0
	}
	if err != nil {
		return 0
	}
	return time.Duration(total * float64(time.Second))
}

// KeyTTLs returns each key's time to live (PTTL), in one round trip: -1
// for a key without one, -2 for a key that does not exist (as Redis says).
func (s *Store) KeyTTLs(ctx context.Context, keys []string) ([]time.Duration, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.DurationCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.PTTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("pttl: %w", err)
	}
	out := make([]time.Duration, len(keys))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// ShortLived reports whether a key with time to live ttl (KeyTTLs) is one
// of the records that expire IdempotencyTTL after a person's last message.
func ShortLived(ttl time.Duration) bool { return ttl > 0 && ttl <= IdempotencyTTL }

// DeleteKeys deletes keys (the load test's stand-in for their expiry), in
// one round trip, one DEL a key (keys of several slots may be given).
func (s *Store) DeleteKeys(ctx context.Context, keys []string) error {
	pipe := s.rdb.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delete keys: %w", err)
	}
	return nil
}

// PoolSize is how many connections the client's pool may hold.
func (s *Store) PoolSize() int {
	switch c := s.rdb.(type) {
	case *redis.Client:
		return c.Options().PoolSize
	case *redis.ClusterClient: // per node
		return c.Options().PoolSize
	}
	return 10 * runtime.GOMAXPROCS(0) // go-redis's default
}

// SetRate measures Redis's own speed with this client: conns goroutines
// each SET a 16-byte value, one after the other, on a key of their own
// ("<ns>:loadtest:baseline:<i>") for d. It returns the SETs per second and
// deletes the keys.
func (s *Store) SetRate(ctx context.Context, d time.Duration, conns int) (float64, error) {
	keys := make([]string, conns)
	for i := range keys {
		keys[i] = s.Key("loadtest", "baseline", strconv.Itoa(i))
	}
	val := strings.Repeat("x", 16)
	var n atomic.Int64
	errs := make(chan error, conns)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if err := s.rdb.Set(ctx, k, val, 0).Err(); err != nil {
					errs <- err
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(errs)
	err := <-errs
	if derr := s.DeleteKeys(context.WithoutCancel(ctx), keys); err == nil {
		err = derr
	}
	if err != nil {
		return 0, fmt.Errorf("baseline SET rate: %w", err)
	}
	return float64(n.Load()) / secs, nil
}

// FillPool opens every connection of the client's pool (each holds read
// and write buffers), so that a heap baseline taken after it has them all.
func (s *Store) FillPool(ctx context.Context) {
	size := s.PoolSize()
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
