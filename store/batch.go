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
// its way goes at once). A batch that leaves takes with it, in the same
// pipeline, what waits for the other scripts: calls behind their own
// script's batch, and the records of last messages, which wait a few
// milliseconds for company (FinalMarkPatience). On Redis Cluster only
// calls whose people share a shard (one slot) go together; on one Redis
// any do.
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
}

// batches are a store's calls on their way to Redis or waiting to go, by
// script, tag and patience (each Store its own: two stores may talk to
// two Redis servers).
type batches struct {
	mu     sync.Mutex
	groups map[batchKey]*batchGroup
	// byTag are the groups of each tag, for a leaving batch to take along
	// what waits in them.
	byTag map[string][]*batchGroup
}

type batchKey struct {
	b       *batchedScript
	tag     string
	patient bool
}

// batchGroup is the calls of one script, tag and patience.
type batchGroup struct {
	batchKey
	pending []*batchCall
	running bool
}

type batchCall struct {
	at   time.Time // when a patient call came
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
	b := &batchedScript{name: name, trip: trip, one: redis.NewScript(body), batch: redis.NewScript(src)}
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
// calls in flight for the same tag: on Redis Cluster a hash tag all the
// keys share (a shard's, or a key's own name). Its result is what the
// one-person script would return (redis.Nil for false or nil).
func (b *batchedScript) run(ctx context.Context, s *Store, tag string, keys []string, args []any) (any, error) {
	return b.runPatient(ctx, s, tag, keys, args, 0)
}

// runPatient is run for a call nobody waits on: it waits up to patience
// for company before it goes, unless an impatient batch of any script
// takes it along first. Patient calls batch apart from impatient ones,
// which never wait.
func (b *batchedScript) runPatient(ctx context.Context, s *Store, tag string, keys []string, args []any, patience time.Duration) (any, error) {
	if !s.clustered {
		tag = "" // one Redis: any people go together
	}
	c := &batchCall{keys: keys, args: args, done: make(chan struct{})}
	if patience > 0 {
		c.at = time.Now()
	}
	bs := &s.batches
	k := batchKey{b, tag, patience > 0}
	bs.mu.Lock()
	g := bs.groups[k]
	if g == nil {
		g = &batchGroup{batchKey: k}
		if bs.groups == nil {
			bs.groups, bs.byTag = map[batchKey]*batchGroup{}, map[string][]*batchGroup{}
		}
		bs.groups[k] = g
		bs.byTag[tag] = append(bs.byTag[tag], g)
	}
	g.pending = append(g.pending, c)
	if !g.running {
		g.running = true
		bs.mu.Unlock()
		if patience > 0 {
			go s.leadPatient(context.WithoutCancel(ctx), g, patience)
		} else {
			s.lead(context.WithoutCancel(ctx), g)
		}
	} else {
		bs.mu.Unlock()
	}
	<-c.done
	return c.res, c.err
}

// leadPatient sends the calls of a patient group as each batch's oldest
// call's patience runs out, unless they rode along with an impatient
// batch before that; it ends when none wait.
func (s *Store) leadPatient(ctx context.Context, g *batchGroup, patience time.Duration) {
	bs := &s.batches
	for {
		bs.mu.Lock()
		if len(g.pending) == 0 {
			g.running = false
			bs.mu.Unlock()
			return
		}
		first := g.pending[0]
		if d := time.Until(first.at.Add(patience)); d > 0 {
			bs.mu.Unlock()
			wait(first.done, d) // done early when it rode along
			continue
		}
		// The oldest call waiting has waited long enough (one that
		// rode along meanwhile is not waiting any more).
		calls := g.take()
		bs.mu.Unlock()
		s.send(ctx, []flight{{g.b, calls}})
	}
}

// wait waits for d, or for done to close first.
func wait(done <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// flight is one script call of a round trip: a script's batch.
type flight struct {
	b     *batchedScript
	calls []*batchCall
}

// lead sends what waits in the impatient group g, one batch, with what
// waits in the other groups of its tag, one batch each, in one pipeline;
// what arrived meanwhile goes as the next batch, sent by a goroutine so
// the leader's caller is not held.
func (s *Store) lead(ctx context.Context, g *batchGroup) {
	bs := &s.batches
	bs.mu.Lock()
	var flights []flight
	if calls := g.take(); len(calls) > 0 {
		flights = append(flights, flight{g.b, calls})
	}
	for _, o := range bs.byTag[g.tag] {
		if o == g {
			continue
		}
		if calls := o.take(); len(calls) > 0 {
			flights = append(flights, flight{o.b, calls})
		}
	}
	bs.mu.Unlock()
	s.send(ctx, flights)
	bs.mu.Lock()
	if len(g.pending) == 0 {
		g.running = false
		bs.mu.Unlock()
		return
	}
	bs.mu.Unlock()
	go s.lead(ctx, g)
}

// take removes up to maxBatch waiting calls from g (under the batches'
// lock).
func (g *batchGroup) take() []*batchCall {
	n := min(len(g.pending), maxBatch)
	calls := g.pending[:n:n]
	g.pending = g.pending[n:]
	return calls
}

// send makes one round trip of the flights: a script call alone, or a
// pipeline of them.
func (s *Store) send(ctx context.Context, flights []flight) {
	defer func() {
		for _, f := range flights {
			for _, c := range f.calls {
				close(c.done)
			}
		}
	}()
	switch len(flights) {
	case 0:
		return // every call rode along with another batch
	case 1:
		f := flights[0]
		sc, keys, args := f.form()
		f.deliver(sc.Run(ctx, s.rdb, keys, args...).Result())
		return
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(flights))
	for i, f := range flights {
		sc, keys, args := f.form()
		cmds[i] = pipe.EvalSha(ctx, sc.Hash(), keys, args...)
	}
	_, _ = pipe.Exec(ctx) // each command's error is its own
	// Scripts Redis lost (a restart, a failover) were not run: run them
	// from their source, in one more round trip.
	var again []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		pipe := s.rdb.Pipeline()
		for _, i := range again {
			sc, keys, args := flights[i].form()
			cmds[i] = sc.Eval(ctx, pipe, keys, args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	for i, f := range flights {
		f.deliver(cmds[i].Result())
	}
}

// form is the script call of a flight: for a call alone, the one-person
// script itself, without the batch's wrapping (a third of the script's
// time in Redis when idle).
func (f flight) form() (*redis.Script, []string, []any) {
	if len(f.calls) == 1 {
		return f.b.one, f.calls[0].keys, f.calls[0].args
	}
	nk, na := 0, 1
	for _, c := range f.calls {
		nk, na = nk+len(c.keys), na+2+len(c.args)
	}
	keys := make([]string, 0, nk)
	args := make([]any, 1, na)
	args[0] = len(f.calls)
	for _, c := range f.calls {
		keys = append(keys, c.keys...)
		args = append(args, len(c.keys), len(c.args))
		args = append(args, c.args...)
	}
	return f.b.batch, keys, args
}

// deliver gives each call of the flight its part of the script's reply.
func (f flight) deliver(res any, err error) {
	if len(f.calls) == 1 {
		f.calls[0].res, f.calls[0].err = res, err
		return
	}
	parts, ok := res.([]any)
	if err == nil && (!ok || len(parts) != len(f.calls)) {
		err = fmt.Errorf("%s: %d replies for %d calls", f.b.name, len(parts), len(f.calls))
	}
	if err != nil {
		for _, c := range f.calls {
			c.err = err
		}
		return
	}
	for i, c := range f.calls {
		c.res, c.err = part(parts[i])
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
