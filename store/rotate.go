package store

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Reseal re-encrypts, under the sealer's current key, every long-lived
// sealed value an older key made: addresses and coach ids in profiles,
// sessions, and case excerpts. Queued messages are short-lived and are
// left to drain: keep the old key in LIFELINE_OLD_DATA_KEYS until the
// queues are empty. It returns how many values it re-encrypted.
func (s *Store) Reseal(ctx context.Context, sealer *Sealer) (int, error) {
	n := 0
	fresh := func(b []byte) bool { return SealedWith(b) == sealer.CurrentKeyID() }
	reseal := func(b []byte) ([]byte, error) {
		plain, err := sealer.Open(b)
		if err != nil {
			return nil, err
		}
		return sealer.Seal(plain), nil
	}
	err := s.scan(ctx, s.personPattern(kProfile), func(key string) error {
		h, err := s.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		for _, f := range []string{"addr", "relay_addr", "coach"} {
			v := h[f]
			if v == "" || fresh([]byte(v)) {
				continue
			}
			b, err := reseal([]byte(v))
			if err != nil {
				return fmt.Errorf("%s %s: %w", key, f, err)
			}
			// Only replace the value we read, in case it changed meanwhile.
			if err := replaceField.Run(ctx, s.rdb, []string{key}, f, v, b).Err(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	for _, pattern := range []string{s.personPattern(kSession), s.ns + ":{case}:c:*:excerpt"} {
		err := s.scan(ctx, pattern, func(key string) error {
			v, err := s.rdb.Get(ctx, key).Bytes()
			if err == redis.Nil || len(v) == 0 || v[0] == '{' || v[0] < 0x10 || fresh(v) {
				return nil
			}
			if err != nil {
				return err
			}
			b, err := reseal(v)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			if err := replaceValue.Run(ctx, s.rdb, []string{key}, v, b).Err(); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

var replaceField = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`)

var replaceValue = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
return 1
`)

// personPattern matches every person's key with suffix.
func (s *Store) personPattern(suffix string) string { return s.ns + ":{s??}:u:*:" + suffix }

func (s *Store) scan(ctx context.Context, pattern string, f func(key string) error) error {
	return s.eachKey(ctx, pattern, func(key string) error {
		if strings.Count(key, ":") < 2 {
			return nil
		}
		return f(key)
	})
}

// eachKey passes every key matching pattern to f (SCAN; on Redis Cluster,
// on every master in turn).
func (s *Store) eachKey(ctx context.Context, pattern string, f func(key string) error) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			if err := f(iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	cc, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, s.rdb)
	}
	var mu sync.Mutex
	var masters []*redis.Client
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		masters = append(masters, c)
		mu.Unlock()
		return nil
	})
	for _, c := range masters {
		if err != nil {
			break
		}
		err = scan(ctx, c)
	}
	return err
}
