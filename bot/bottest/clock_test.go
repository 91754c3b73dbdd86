package bottest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestClock: the clock stays where it is set, in its location, and moves
// only when told, from any goroutine.
func TestClock(t *testing.T) {
	loc := time.FixedZone("X", 3*3600)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, loc)
	c := bottest.NewClock(start)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Add(time.Minute) }()
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(start.Add(10*time.Minute)) || got.Location() != loc {
		t.Errorf("now %v", got)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Errorf("set: %v", c.Now())
	}
}
