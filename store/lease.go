package store

import (
	"context"
	"fmt"
	"time"
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
