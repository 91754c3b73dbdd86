package bot

import (
	"context"
	"sync"
	"time"
)

// Limits configures a Limiter. A rate of zero or less means no limit of
// that kind.
type Limits struct {
	// Global is the most sends per second over all keys.
	Global float64
	// PerKey is the most sends per second to one key (a chat, a number).
	PerKey float64
	// GroupPerMinute is the most sends per minute to one key that IsGroup
	// reports as a group; the stricter of it and PerKey applies.
	GroupPerMinute float64
	// IsGroup reports whether a key is a group chat. Nil means none is.
	IsGroup func(key string) bool
}

// Limiter spaces sends so that a channel stays under a platform's global
// and per-recipient rates. Sends are spaced evenly with no burst, which
// keeps under limits that are only loosely documented (Telegram's). A key
// that must wait does not hold up other keys; among keys that may send,
// global slots go in the order asked. It is safe for concurrent use; the
// zero value is not usable, call NewLimiter.
type Limiter struct {
	global, perKey, group time.Duration // intervals; 0 means unlimited
	isGroup               func(string) bool
	now                   func() time.Time

	mu         sync.Mutex
	nextGlobal time.Time
	// next holds, per key, the earliest time of the key's next send. A key
	// whose time has passed no longer constrains anything, so sweep drops
	// it: the map only holds keys sent to within the last interval or so.
	next      map[string]time.Time
	lastSweep time.Time
}

// NewLimiter returns a Limiter for l.
func NewLimiter(l Limits) *Limiter {
	lim := &Limiter{
		global:  interval(l.Global, time.Second),
		perKey:  interval(l.PerKey, time.Second),
		group:   interval(l.GroupPerMinute, time.Minute),
		isGroup: l.IsGroup,
		now:     time.Now,
		next:    map[string]time.Time{},
	}
	if lim.group < lim.perKey {
		lim.group = lim.perKey
	}
	return lim
}

func interval(rate float64, per time.Duration) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(per) / rate)
}

// Wait blocks until a send to key is allowed and reports how long it
// waited. The empty key is held to the global rate only (for calls that
// are not messages to anyone, such as deletions). It returns ctx's error if ctx ends first; a slot it had taken is
// then given back when no later waiter holds one after it.
func (l *Limiter) Wait(ctx context.Context, key string) (time.Duration, error) {
	start := l.now()
	for {
		if err := ctx.Err(); err != nil {
			return l.now().Sub(start), err
		}
		now := l.now()
		at, prev, ok := l.take(key, now)
		if d := at.Sub(now); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				if ok {
					l.cancel(key, at, prev)
				}
				return l.now().Sub(start), ctx.Err()
			}
		}
		if ok {
			return l.now().Sub(start), nil
		}
	}
}

// Hold stops sends to key until d from now, as when the platform answered
// "too many requests, retry after d". An empty key holds every send.
func (l *Limiter) Hold(key string, d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	until := l.now().Add(d)
	if key == "" {
		if until.After(l.nextGlobal) {
			l.nextGlobal = until
		}
		return
	}
	if until.After(l.next[key]) {
		l.next[key] = until
	}
}

// take is one step of Wait at time now. While key must still wait, it
// takes nothing and returns the time to try again, with ok false: a busy
// key so never holds a global slot that other keys could use. Once key is
// free, it takes the next global slot, marks key busy from that slot on,
// and returns the slot, key's previous state (for cancel) and ok true.
func (l *Limiter) take(key string, now time.Time) (at, prev time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	if key != "" {
		prev = l.next[key]
		if prev.After(now) {
			return prev, prev, false
		}
	}
	at = now
	if l.nextGlobal.After(at) {
		at = l.nextGlobal
	}
	if l.global > 0 {
		l.nextGlobal = at.Add(l.global)
	}
	if iv := l.keyInterval(key); iv > 0 && key != "" {
		l.next[key] = at.Add(iv)
	}
	return at, prev, true
}

// cancel gives back the slot at taken for key, where no later slot was
// taken since.
func (l *Limiter) cancel(key string, at, prev time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.global > 0 && l.nextGlobal.Equal(at.Add(l.global)) {
		l.nextGlobal = at
	}
	if iv := l.keyInterval(key); iv > 0 && key != "" && l.next[key].Equal(at.Add(iv)) {
		if prev.IsZero() {
			delete(l.next, key)
		} else {
			l.next[key] = prev
		}
	}
}

func (l *Limiter) keyInterval(key string) time.Duration {
	if l.isGroup != nil && l.isGroup(key) {
		return l.group
	}
	return l.perKey
}

// sweep drops keys whose next slot has passed, at most once a second, so
// the map's size stays bounded by the keys sent to recently.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for k, t := range l.next {
		if !t.After(now) {
			delete(l.next, k)
		}
	}
}
