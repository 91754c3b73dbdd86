package store

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batching across people. The hot scripts (accept, a turn's begin and
// commit, a sender's next and mark) each concern one person. Calls that
// arrive while an earlier call of the same script is on its way to Redis
// wait for it and then go together, as one script call that runs the
// one-person script for each of them in turn: one round trip for many
// people, and no wait at all when Redis is idle (a call finding nothing on
// its way goes at once). On Redis Cluster only calls whose people share a
// shard (one slot) go together; on one Redis any do.
//
// Each person's part runs exactly as the one-person script would, under
// pcall, so one failing part fails only its own call. A batch that fails
// as a whole (Redis away) fails every call in it, as each would have
// failed alone; the callers retry as they already do.

// maxBatch bounds the people in one batch.
const maxBatch = 64

// batchedScript runs a one-person script for several people at once.
type batchedScript struct {
	name  string
	trip  Trip          // what a round trip of it is for (trips.go)
	one   *redis.Script // the one-person script, for a batch of one
	batch *redis.Script

	mu     sync.Mutex
	groups map[string]*batchGroup
}

type batchGroup struct {
	pending []*batchCall
	running bool
}

type batchCall struct {
	keys []string
	args []any
	res  any
	err  error
	done chan struct{}
}

// newBatched wraps the body of a one-person script (which reads KEYS and
// ARGV and may return early) as a function, and runs it once for each
// part: ARGV[1] is the number of parts, then each part's key and argument
// counts and arguments; its keys follow one another in KEYS. The reply
// holds each part's reply, or {'\0err', message} for a part that failed.
func newBatched(name string, trip Trip, body string) *batchedScript {
	src := `local function one(KEYS, ARGV)
` + body + `
end
local out = {}
local n = tonumber(ARGV[1])
local ki, ai = 1, 2
for i = 1, n do
  local nk, na = tonumber(ARGV[ai]), tonumber(ARGV[ai + 1])
  ai = ai + 2
  local k, a = {}, {}
  for j = 1, nk do k[j] = KEYS[ki + j - 1] end
  for j = 1, na do a[j] = ARGV[ai + j - 1] end
  ki, ai = ki + nk, ai + na
  local ok, res = pcall(one, k, a)
  if ok then
    if res == nil then res = false end
    out[i] = res
  else
    out[i] = {'\0err', type(res) == 'table' and (res.err or '?') or tostring(res)}
  end
end
return out
`
	b := &batchedScript{name: name, trip: trip, one: redis.NewScript(body), batch: redis.NewScript(src), groups: map[string]*batchGroup{}}
	batchedScripts[b.batch.Hash()] = scriptForm{b, true}
	batchedScripts[b.one.Hash()] = scriptForm{b, false}
	return b
}

// scriptForm is a batched script's batch or one-person form.
type scriptForm struct {
	*batchedScript
	batch bool
}

// batchedScripts are the batched scripts' two forms by SHA-1, for the
// trip counter.
var batchedScripts = map[string]scriptForm{}

// batchedByHash finds the batched script an EVALSHA (by its SHA) or an
// EVAL (by its source) runs, and in which form.
func batchedByHash(cmd, arg string) (scriptForm, bool) {
	if cmd == "eval" {
		sum := sha1.Sum([]byte(arg))
		arg = hex.EncodeToString(sum[:])
	}
	f, ok := batchedScripts[arg]
	return f, ok
}

// run runs the script for one person's keys and args, batched with other
// calls in flight for the same group: on Redis Cluster a hash tag all the
// keys share (a shard's, or a key's own name). Its result is what the
// one-person script would return (redis.Nil for false or nil).
func (b *batchedScript) run(ctx context.Context, s *Store, group string, keys []string, args []any) (any, error) {
	return b.runPatient(ctx, s, group, keys, args, 0)
}

// runPatient is run for a call nobody waits on: one that finds nothing on
// its way waits up to patience for company before it goes. Patient calls
// batch apart from impatient ones, which never wait.
func (b *batchedScript) runPatient(ctx context.Context, s *Store, group string, keys []string, args []any, patience time.Duration) (any, error) {
	if !s.clustered {
		group = "" // one Redis: any people go together
	}
	if patience > 0 {
		group += "\x00patient"
	}
	c := &batchCall{keys: keys, args: args, done: make(chan struct{})}
	b.mu.Lock()
	g := b.groups[group]
	if g == nil {
		g = &batchGroup{}
		b.groups[group] = g
	}
	g.pending = append(g.pending, c)
	if !g.running {
		g.running = true
		b.mu.Unlock()
		if patience > 0 {
			wait(c.done, patience)
		}
		b.lead(context.WithoutCancel(ctx), s, g)
	} else {
		b.mu.Unlock()
	}
	<-c.done
	return c.res, c.err
}

// wait waits for d, or for done to close first (it never does for a
// leader, whose call goes with its batch).
func wait(done <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// lead sends what waits in g, one batch; what arrived meanwhile goes as
// the next batch, sent by a goroutine so the leader's caller is not held.
func (b *batchedScript) lead(ctx context.Context, s *Store, g *batchGroup) {
	b.mu.Lock()
	n := min(len(g.pending), maxBatch)
	calls := g.pending[:n:n]
	g.pending = g.pending[n:]
	b.mu.Unlock()
	b.send(ctx, s, calls)
	b.mu.Lock()
	if len(g.pending) == 0 {
		g.running = false
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	go b.lead(ctx, s, g)
}

func (b *batchedScript) send(ctx context.Context, s *Store, calls []*batchCall) {
	defer func() {
		for _, c := range calls {
			close(c.done)
		}
	}()
	if len(calls) == 1 {
		// Alone: the one-person script itself, without the batch's
		// wrapping (a third of the script's time in Redis when idle).
		c := calls[0]
		c.res, c.err = b.one.Run(ctx, s.rdb, c.keys, c.args...).Result()
		return
	}
	var keys []string
	args := []any{len(calls)}
	for _, c := range calls {
		keys = append(keys, c.keys...)
		args = append(args, len(c.keys), len(c.args))
		args = append(args, c.args...)
	}
	res, err := b.batch.Run(ctx, s.rdb, keys, args...).Slice()
	if err == nil && len(res) != len(calls) {
		err = fmt.Errorf("%s: %d replies for %d calls", b.name, len(res), len(calls))
	}
	if err != nil {
		for _, c := range calls {
			c.err = err
		}
		return
	}
	for i, c := range calls {
		c.res, c.err = part(res[i])
	}
}

// part turns one part's reply into the one-person script's result.
func part(v any) (any, error) {
	if v == nil {
		return nil, redis.Nil
	}
	if t, ok := v.([]any); ok && len(t) == 2 {
		if tag, _ := t[0].(string); tag == "\x00err" {
			msg, _ := t[1].(string)
			return nil, errors.New(msg)
		}
	}
	return v, nil
}

// asInt reads an integer result.
func asInt(v any, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected reply %T", v)
	}
	return int(n), nil
}
