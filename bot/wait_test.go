package bot

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSleep: the whole delay when nothing stops it; at once, with the
// context's error, when the context ends first.
func TestSleep(t *testing.T) {
	start := time.Now()
	if err := Sleep(context.Background(), 20*time.Millisecond); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("slept %v, %v", time.Since(start), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("cancelled sleep took %v, %v", time.Since(start), err)
	}
}
