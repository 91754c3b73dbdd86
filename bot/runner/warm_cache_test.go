package runner

import (
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store"
)

// TestWarmTurnsKept: a person's kept state serves one message (whoever
// takes it first), is gone warmTTL after the turn that left it, makes
// way for others when the cache is full, and is never kept when warm
// turns are off.
func TestWarmTurnsKept(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	w := &store.Warm{Session: []byte("s")}
	c := newWarmTurns(3)
	c.keep("p", w, now)
	if got := c.take("p", now.Add(time.Second)); got != w {
		t.Fatalf("took %v, want the state kept", got)
	}
	if got := c.take("p", now.Add(time.Second)); got != nil {
		t.Error("a state served two messages")
	}
	c.keep("p", w, now)
	if got := c.take("p", now.Add(warmTTL+time.Second)); got != nil {
		t.Error("a state outlived warmTTL")
	}
	c.keep("p", w, now)
	c.keep("p", nil, now)
	if got := c.take("p", now); got != nil {
		t.Error("a forgotten state was kept")
	}
	for i := range 5 {
		c.keep(strconv.Itoa(i), w, now)
	}
	if len(c.m) != 3 {
		t.Errorf("%d states kept, want at most 3", len(c.m))
	}
	c.keep("late", w, now.Add(warmTTL))
	c.sweep(now.Add(warmTTL + time.Second))
	if len(c.m) != 1 || c.m["late"].w != w {
		t.Errorf("after the sweep: %v, want only the state kept later", c.m)
	}
	off := newWarmTurns(-1)
	off.keep("p", w, now)
	if got := off.take("p", now); got != nil || len(off.m) != 0 {
		t.Error("a cache that is off kept a state")
	}
}
