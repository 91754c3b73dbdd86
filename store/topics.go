package store

import (
	"context"
)

// Subscribe adds person to (or, with in false, removes them from) the set
// of a topic's subscribers. Both are idempotent.
func (s *Store) Subscribe(ctx context.Context, topic, person string, in bool) error {
	if in {
		return s.rdb.SAdd(ctx, s.Key("sub", topic), person).Err()
	}
	return s.rdb.SRem(ctx, s.Key("sub", topic), person).Err()
}

// Forget takes an erased person out of topics' sets and the people index,
// then asks Redis to rewrite its append-only file so the erased values
// leave its files too (an error there just means AOF is off or a rewrite
// is already running).
func (s *Store) Forget(ctx context.Context, person string, topics []string) error {
	pipe := s.rdb.Pipeline()
	for _, t := range topics {
		pipe.SRem(ctx, s.Key("sub", t), person)
	}
	pipe.SRem(ctx, s.peopleOf(person), person)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	_ = s.rdb.BgRewriteAOF(ctx).Err()
	return nil
}
