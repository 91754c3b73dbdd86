package store

import (
	"context"
)

// Subscribe adds person to (or, with in false, removes them from) the set
// of a topic's subscribers. Both are idempotent.
// Changes of many people's subscriptions at once go to Redis together
// (batch.go): one round trip for each topic's in flight.
func (s *Store) Subscribe(ctx context.Context, topic, person string, in bool) error {
	join := "0"
	if in {
		join = "1"
	}
	key := s.Key("sub", topic)
	_, err := subscribeScript.run(ctx, s, key, []string{key}, []any{join, person})
	return err
}

var subscribeScript = newBatched("subscribe", TripEffects, `
if ARGV[1] == '1' then return redis.call('SADD', KEYS[1], ARGV[2]) end
return redis.call('SREM', KEYS[1], ARGV[2])
`)

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
