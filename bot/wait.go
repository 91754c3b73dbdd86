package bot

import (
	"context"
	"time"
)

// Sleep waits d, or less when ctx ends first; it returns ctx's error then.
// Loops that back off between tries (the runner's queues and senders, the
// broadcast service) call it so that a shutdown never waits out a delay.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Every calls f every d until ctx ends (it returns nil then) or f returns
// an error (it returns that). Loops that do something at a steady pace,
// such as firing timers or renewing a lock, call it.
func Every(ctx context.Context, d time.Duration, f func() error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := f(); err != nil {
			return err
		}
	}
}
