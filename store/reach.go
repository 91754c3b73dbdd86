package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// fieldReachSeq is the profile field holding the platform's sequence
// number (Telegram's update_id) of the last change MarkReachable applied.
// The flag itself is "unreachable" (bot.FieldUnreachable).
const fieldReachSeq = "reach_seq"

// reachScript sets or clears the unreachable flag of an existing profile,
// once per sequence number and only forward: a repeated or older change
// (a redelivered update) changes nothing.
// KEYS: profile. ARGV: seq, "1" unreachable or "" reachable, seq field.
var reachScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0') or 0
if last >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'unreachable', '1')
else
  redis.call('HDEL', KEYS[1], 'unreachable')
end
return 1
`)

// MarkReachable records that a person blocked Lifeline on their channel
// (reachable false) or let it write again (true), as the change numbered
// seq by the platform. Only the unreachable flag changes: what the person
// turned off themselves (stopped, subscriptions, paused check-ins) stays
// as it is. It reports whether the change was applied: false for a seq at
// or below the last one applied (a repeat, or older than what is known),
// and for a person with no profile (never met, or erased), of whom nothing
// is kept.
func (s *Store) MarkReachable(ctx context.Context, person string, seq int64, reachable bool) (bool, error) {
	if seq <= 0 {
		return false, fmt.Errorf("mark reachable: sequence number %d is not positive", seq)
	}
	flag := "1"
	if reachable {
		flag = ""
	}
	n, err := reachScript.Run(ctx, s.rdb, []string{s.pkey(person, kProfile)}, seq, flag, fieldReachSeq).Int()
	if err != nil {
		return false, fmt.Errorf("mark reachable: %w", err)
	}
	return n == 1, nil
}
