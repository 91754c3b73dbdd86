package broadcast

import "github.com/redis/go-redis/v9"

// A broadcast's own keys share the hash tag {bc:<id>}: meta (hash),
// chunks (stream of comma-joined person ids), done (the sent-set: every
// person served, sent or skipped), later (zset of people waiting for the
// end of their quiet hours, by due time) and scan (the fan-out lease).

// createScript stores a broadcast once and makes its chunk stream.
// KEYS: meta, chunks. ARGV: plan, status, send_at, created, source, group,
// kind.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'plan', ARGV[1], 'status', ARGV[2], 'send_at', ARGV[3], 'created', ARGV[4],
  'source', ARGV[5], 'cursor', '0', 'scanned', '0', 'kind', ARGV[7], 'queued', 0, 'sent', 0, 'skipped', 0, 'failed', 0)
redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[6], '0', 'MKSTREAM')
return 1
`)

// transitionScript moves the status to ARGV[1] when it is one of ARGV[3..];
// "sending" becomes "scheduled" while send_at (ms) is after ARGV[2]. It
// returns "ok", the current status when the move is refused, or "" for an
// unknown broadcast.
var transitionScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return '' end
for i = 3, #ARGV do
  if cur == ARGV[i] then
    local to = ARGV[1]
    if to == 'sending' and tonumber(redis.call('HGET', KEYS[1], 'send_at') or '0') > tonumber(ARGV[2]) then
      to = 'scheduled'
    end
    redis.call('HSET', KEYS[1], 'status', to)
    return 'ok'
  end
end
return cur
`)

// fanoutScript appends one batch of the audience as a chunk and moves the
// stored scan cursor on, in one step, so a crash between batches neither
// skips nor repeats one. It only writes while the caller holds the scan
// lease and the stored cursor is the one it read.
// KEYS: meta, chunks, scan. ARGV: token, cursor read, next cursor, count,
// payload, lease ms.
var fanoutScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'sending' then return -3 end
if redis.call('HGET', KEYS[1], 'cursor') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'scanned') == '1' then return -2 end
local n = tonumber(ARGV[4])
if n > 0 then
  redis.call('XADD', KEYS[2], '*', 'p', ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'queued', n)
end
redis.call('HSET', KEYS[1], 'cursor', ARGV[3])
if ARGV[3] == '0' then redis.call('HSET', KEYS[1], 'scanned', '1') end
redis.call('PEXPIRE', KEYS[3], ARGV[6])
return 1
`)

// checkScript is the check before a send: "served" when the person is in
// the sent-set, else the broadcast's status.
// KEYS: meta, done. ARGV: person.
var checkScript = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'served' end
return redis.call('HGET', KEYS[1], 'status') or ''
`)

// markScript records a person's outcome right after the send: it adds them
// to the sent-set and counts the outcome the first time only.
// KEYS: meta, done, later. ARGV: person, outcome field.
var markScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'status')
redis.call('ZREM', KEYS[3], ARGV[1])
if st ~= 'sending' and st ~= 'paused' then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
  return 1
end
return 0
`)

// deferScript puts a person in the waiting set until ARGV[2] (ms), unless
// they were served. ARGV[3] = "nx" keeps an existing due time.
// KEYS: meta, done, later. ARGV: person, due, mode.
var deferScript = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
local st = redis.call('HGET', KEYS[1], 'status')
if st ~= 'sending' and st ~= 'paused' then return 0 end
if ARGV[3] == 'nx' then
  return redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[1])
end
return redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
`)

// claimLaterScript takes up to ARGV[3] people whose wait is over and leases
// them for ARGV[2] ms (their due time moves on), so one process serves each
// and a crashed one's people come back.
// KEYS: later. ARGV: now ms, lease ms, count.
var claimLaterScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, p in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), p)
end
return due
`)

// finishScript marks a broadcast done once its audience is read, every
// chunk handled and nobody waits.
// KEYS: meta, chunks, later. ARGV: now ms.
var finishScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'sending' or redis.call('HGET', KEYS[1], 'scanned') ~= '1' then return 0 end
if redis.call('XLEN', KEYS[2]) > 0 or redis.call('ZCARD', KEYS[3]) > 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'done', 'finished', ARGV[1])
return 1
`)

// unlockScript releases a lease if token still holds it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// advanceScript moves a series (reminders, digest) to its next round when
// its round counter is still ARGV[1]. KEYS: series hash. ARGV: round read,
// next round, next due ms, extra field, extra value.
var advanceScript = redis.NewScript(`
if (redis.call('HGET', KEYS[1], 'round') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'round', ARGV[2], 'next', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[4], ARGV[5]) end
return 1
`)
