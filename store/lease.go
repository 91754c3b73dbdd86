package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// TakeLease gives holder the lease name for ttl unless someone holds it:
// one process of several does a job (the retention sweep). It is never
// released; it ends with its ttl.
func (s *Store) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.Key(name, "lock"), holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return ok, nil
}

var renewLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// RenewLease extends holder's lease name by ttl, and reports false when
// holder no longer holds it.
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	n, err := renewLeaseScript.Run(ctx, s.rdb, []string{s.Key(name, "lock")}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return n == 1, nil
}
