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

// TestEvery: f runs at the pace asked until it fails, and the failure is
// returned; an ended context stops the loop with nil.
func TestEvery(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	start := time.Now()
	err := Every(context.Background(), 5*time.Millisecond, func() error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 || time.Since(start) < 15*time.Millisecond {
		t.Fatalf("after %v: %d calls, %v", time.Since(start), n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Every(ctx, time.Hour, func() error { t.Error("called after the context ended"); return nil }); err != nil {
		t.Fatal(err)
	}
}
