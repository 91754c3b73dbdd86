package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ScanPeople reads up to about count people's ids from cursor (SSCAN: 0
// starts, and a next of 0 means everyone was read; a person added or
// removed meanwhile may be seen or not, and one may come twice).
func (s *Store) ScanPeople(ctx context.Context, cursor uint64, count int) (ids []string, next uint64, err error) {
	ids, next, err = s.scanShards(ctx, "people", cursor, count)
	if err != nil {
		return nil, 0, fmt.Errorf("scan people: %w", err)
	}
	return ids, next, nil
}

// shardBits is where a sharded scan's cursor keeps the shard it is in:
// the top byte, above any cursor one set's SSCAN returns.
const shardBits = 56

// scanShards is SSCAN over the set name of every shard in turn, with one
// cursor: the shard in its top byte, the set's own cursor below.
func (s *Store) scanShards(ctx context.Context, name string, cursor uint64, count int) (ids []string, next uint64, err error) {
	shard := int(cursor >> shardBits)
	inner := cursor & (1<<shardBits - 1)
	for shard < Shards {
		ids, inner, err = s.rdb.SScan(ctx, s.shardKey(shard, name), inner, "", int64(count)).Result()
		if err != nil {
			return nil, 0, err
		}
		if inner == 0 {
			shard++
		}
		if len(ids) > 0 || inner != 0 {
			break
		}
	}
	if shard >= Shards {
		return ids, 0, nil
	}
	return ids, uint64(shard)<<shardBits | inner, nil
}

func (s *Store) eachMember(ctx context.Context, key string, page int64, f func(string) error) error {
	var cursor uint64
	for {
		members, next, err := s.rdb.SScan(ctx, key, cursor, "", page).Result()
		if err != nil {
			return fmt.Errorf("scan %s: %w", key, err)
		}
		for _, m := range members {
			if err := f(m); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Profiles reads people's profiles in one round trip (an empty map for
// someone unknown).
func (s *Store) Profiles(ctx context.Context, people []string) ([]map[string]string, error) {
	keys := make([]string, len(people))
	for i, p := range people {
		keys[i] = s.pkey(p, kProfile)
	}
	out, err := s.hashes(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return out, nil
}

// hashes reads whole hashes in one round trip (an empty map for a key
// that does not exist).
func (s *Store) hashes(ctx context.Context, keys []string) ([]map[string]string, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HGetAll(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(keys))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// eraseIfSilentScript erases a person's keys only if they are still
// silent: nobody holds their turn or sending lock, nothing waits in their
// inbox or outbox, and their last message is the one the sweep saw.
// Accepting a message is a script too, so the two never interleave.
// KEYS: lock, send lock, inbox, outbox, profile, then every key to erase.
var eraseIfSilentScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('LLEN', KEYS[3]) > 0 or redis.call('LLEN', KEYS[4]) > 0 then return 0 end
if (redis.call('HGET', KEYS[5], 'last') or '') ~= ARGV[1] then return 0 end
for i = 6, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`)

// ErasePersonIfSilent erases every key of a person the retention sweep
// found silent since last (their profile's "last"), unless they wrote or
// are being served meanwhile; it reports whether it erased them.
func (s *Store) ErasePersonIfSilent(ctx context.Context, person, last string) (bool, error) {
	keys := []string{s.pkey(person, kLock), s.pkey(person, kSLock), s.pkey(person, kInbox), s.pkey(person, kOutbox), s.pkey(person, kProfile)}
	keys = append(keys, s.PersonKeyNames(person)...)
	n, err := eraseIfSilentScript.Run(ctx, s.rdb, keys, last).Int()
	if err != nil {
		return false, fmt.Errorf("erase silent person: %w", err)
	}
	return n == 1, nil
}

// IndexPeople adds people to the people index (Accept does it for
// everyone who writes; this is for imports and tests).
func (s *Store) IndexPeople(ctx context.Context, people ...string) error {
	pipe := s.rdb.Pipeline()
	for _, p := range people {
		pipe.SAdd(ctx, s.peopleOf(p), p)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Indexed reports whether person is in the people index.
func (s *Store) Indexed(ctx context.Context, person string) (bool, error) {
	return s.rdb.SIsMember(ctx, s.peopleOf(person), person).Result()
}
