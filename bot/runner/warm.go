package runner

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lifeline-org/lifeline/store"
)

// Warm turns: a process keeps, for a while, the state each person's last
// turn here left (store.Warm), so that their next message, when it comes
// to this process, is decided as it arrives and accepted and committed in
// one round trip (store.AcceptTurn) instead of an accept and a commit.
// What is kept is only ever a guess: the script checks it against what
// Redis holds and, when it differs, writes nothing of the turn and accepts
// the message as usual instead, in the same round trip. So a turn decided
// warm is the turn a worker holding
// the person's lock would have decided, and nothing anyone else does to
// the person (another process, a coach, an erasure) need tell this cache.

// Kept state lives warmTTL after the turn that left it, and at most
// DefaultWarm people's a process (Config.Warm): a conversation's pace,
// and a few megabytes.
const (
	warmTTL     = 5 * time.Minute
	DefaultWarm = 10000
)

// warmTurns are the states kept, by person.
type warmTurns struct {
	mu  sync.Mutex
	m   map[string]warmEntry
	max int
}

type warmEntry struct {
	w  *store.Warm
	at time.Time
}

func newWarmTurns(max int) *warmTurns {
	return &warmTurns{m: map[string]warmEntry{}, max: max}
}

// take removes and returns the person's state, nil when none is kept or it
// is too old: one message at a time decides from it.
func (c *warmTurns) take(person string, now time.Time) *store.Warm {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[person]
	if !ok {
		return nil
	}
	delete(c.m, person)
	if now.Sub(e.at) > warmTTL {
		return nil
	}
	return e.w
}

// keep keeps w as the person's state (nil forgets it). When full, some
// other person's state makes way.
func (c *warmTurns) keep(person string, w *store.Warm, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if w == nil {
		delete(c.m, person)
		return
	}
	if _, ok := c.m[person]; !ok && len(c.m) >= c.max {
		for p := range c.m {
			delete(c.m, p)
			break
		}
	}
	c.m[person] = warmEntry{w, now}
}

// sweep forgets states older than warmTTL: what a process holds about a
// person who has gone quiet, or was erased elsewhere, does not linger.
func (c *warmTurns) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, e := range c.m {
		if now.Sub(e.at) > warmTTL {
			delete(c.m, p)
		}
	}
}

// sweepLoop sweeps every warmTTL/4 until ctx ends.
func (c *warmTurns) sweepLoop(ctx context.Context) {
	t := time.NewTicker(warmTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.sweep(now)
		}
	}
}

// acceptWarm accepts a with a turn decided from w, or, when w was stale,
// the usual way in the same round trip (the entries that accept took go
// to this process's workers). It reports whether it accepted a (ok), and
// if so whether a was new; when it did not, nothing was written and a is
// to be accepted as usual.
func (r *Runtime) acceptWarm(ctx context.Context, a store.Accepted, consumer string, w *store.Warm) (ok, fresh bool, err error) {
	start := time.Now()
	t := w.Turn(a)
	c, alarms, err := r.decide(t, store.Entry{})
	if err != nil || c.Wipe {
		return false, false, nil // an erasure, or what cannot be read, goes the usual way
	}
	warm, fresh, taken, err := r.store.AcceptTurn(ctx, a, consumer, w, t, c)
	switch {
	case errors.Is(err, store.ErrNotWarm):
		return false, false, nil
	case err != nil:
		return true, false, err
	case !warm:
		r.cfg.Hooks.warm(a.Channel, "stale")
		r.workHand.give(taken...)
		return true, fresh, nil
	case !fresh:
		// A repeat wrote nothing: the state is still the person's.
		r.warm.keep(a.Person, w, time.Now())
		return true, false, nil
	}
	r.cfg.Hooks.warm(a.Channel, "answered")
	r.committed(t, alarms, taken, start)
	return true, true, nil
}
