package bottest_test

import (
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/bottest"
)

// TestWaitFor: WaitFor returns once the condition holds.
func TestWaitFor(t *testing.T) {
	start := time.Now()
	bottest.WaitFor(t, "a moment", func() bool { return time.Since(start) > 20*time.Millisecond })
	var b bottest.Buffer
	b.Write([]byte("x"))
	if b.String() != "x" {
		t.Error("buffer")
	}
	b.Reset()
	if b.String() != "" {
		t.Error("reset")
	}
}
