package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ProfileKey is the Redis key of a person's profile hash, for callers that
// keep their own per-person fields in it (the check-in scheduler) and must
// change them atomically.
func (s *Store) ProfileKey(person string) string { return s.pkey(person, kProfile) }

// ErrNoProfile means the person has no profile: never met, or erased.
var ErrNoProfile = errors.New("person has no profile")

// maxUpdateTries bounds the retries of UpdateProfile under contention.
const maxUpdateTries = 16

// UpdateProfile reads a person's profile, lets f decide which fields to
// change ("" deletes one; nil or empty changes nothing), and writes them
// only if the profile was not changed meanwhile (optimistic, WATCH/MULTI on
// the one key), retrying otherwise. It never creates a profile: for an
// unknown or erased person it returns ErrNoProfile without calling f. It
// returns the profile as written.
func (s *Store) UpdateProfile(ctx context.Context, person string, f func(p map[string]string) (map[string]string, error)) (map[string]string, error) {
	return s.updateProfile(ctx, person, f, nil)
}

// UpdateProfileSchedule is UpdateProfile that also sets the person's
// check-in items, as items computes them from the profile as written, in
// the same transaction: two updates at once (a subscription and a time
// zone, handled by two workers) cannot leave the due set out of step with
// the profile.
func (s *Store) UpdateProfileSchedule(ctx context.Context, person string, f func(p map[string]string) (map[string]string, error),
	items func(p map[string]string) []CheckinItem) (map[string]string, error) {
	return s.updateProfile(ctx, person, f, func(pipe redis.Pipeliner, p map[string]string) {
		s.setCheckinItems(ctx, pipe, person, items(p))
	})
}

func (s *Store) updateProfile(ctx context.Context, person string, f func(p map[string]string) (map[string]string, error),
	also func(pipe redis.Pipeliner, p map[string]string)) (map[string]string, error) {
	key := s.pkey(person, kProfile)
	var out map[string]string
	txf := func(tx *redis.Tx) error {
		p, err := tx.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		if len(p) == 0 {
			return ErrNoProfile
		}
		set, err := f(p)
		if err != nil {
			return err
		}
		if len(set) == 0 && also == nil {
			out = p
			return nil
		}
		for k, v := range set {
			if v == "" {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		// Written only if the profile is as read (WATCH): otherwise tried
		// again from a fresh read.
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			for k, v := range set {
				if v == "" {
					pipe.HDel(ctx, key, k)
				} else {
					pipe.HSet(ctx, key, k, v)
				}
			}
			if also != nil {
				also(pipe, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		out = p
		return nil
	}
	for range maxUpdateTries {
		err := s.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			if errors.Is(err, ErrNoProfile) {
				return nil, err
			}
			return nil, fmt.Errorf("update profile: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("update profile: %w", redis.TxFailedErr)
}
