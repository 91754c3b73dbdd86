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
