package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/store"
)

// handleDelivery sends one queued delivery. Each message is sent at most
// once: a sent-marker is checked before and recorded right after the
// platform accepts it, so only a crash between those two steps can repeat a
// message. A retryable failure leaves the entry pending for a later try.
func (r *Runtime) handleDelivery(ctx context.Context, e store.Entry) error {
	d, err := r.openDelivery(e.Payload)
	if err != nil {
		r.log.Error("delivery unreadable; dropped", "event", "delivery_unreadable", "error", err)
		return nil
	}
	ch := r.channels[d.Channel]
	if ch == nil {
		r.log.Error("delivery for a channel that is not running; dropped", "event", "delivery_no_channel", "person", d.Person, "channel", d.Channel)
		return nil
	}
	if d.Clear {
		r.clear(ctx, ch, d)
	}
	for i, m := range d.Msgs {
		marker := d.ID + ":" + strconv.Itoa(i)
		sent, err := r.store.WasSent(ctx, d.Person, marker)
		if err != nil {
			return err
		}
		if sent {
			continue
		}
		stop, err := r.sendOne(ctx, ch, d, marker, m)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// sendOne sends one message with retries. stop reports that the rest of the
// delivery should be dropped (the person is unreachable or opted out).
func (r *Runtime) sendOne(ctx context.Context, ch Channel, d Delivery, marker string, m Outbound) (stop bool, err error) {
	for attempt := 1; ; attempt++ {
		pm, err := ch.Send(ctx, d.Address, m)
		if err == nil {
			if err := r.store.MarkSent(ctx, d.Person, marker, pm, r.now()); err != nil {
				r.log.Error("sent but not marked; a retry may repeat it", "event", "mark_sent_failed", "person", d.Person, "error", err)
			}
			return false, nil
		}
		se := AsSendError(err)
		switch {
		case se.Unreachable || se.OptedOut:
			fields := map[string]string{"unreachable": "1"}
			if se.OptedOut {
				fields = map[string]string{"stopped": "1", "optout": "carrier"}
			}
			if err := r.store.SetProfile(ctx, d.Person, fields); err != nil {
				return false, err
			}
			r.log.Info("person unreachable; delivery dropped", "event", "send_unreachable", "person", d.Person, "channel", d.Channel, "code", se.Code, "opted_out", se.OptedOut)
			return true, nil
		case !se.Retryable:
			r.log.Warn("message refused by the platform; not retried", "event", "send_refused", "person", d.Person, "channel", d.Channel, "code", se.Code, "error", se.Err)
			return false, nil
		case attempt >= maxAttempts:
			return false, fmt.Errorf("send: %d attempts failed: %w", attempt, err)
		}
		wait := se.RetryAfter
		if wait <= 0 {
			wait = backoff(attempt)
		}
		r.log.Info("send failed; retrying", "event", "send_retry", "person", d.Person, "channel", d.Channel, "code", se.Code, "wait_ms", wait.Milliseconds())
		sleep(ctx, wait)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
}

// backoff is exponential with full jitter: up to 250ms, 500ms, 1s, …, 30s.
func backoff(attempt int) time.Duration {
	ceil := min(250*time.Millisecond<<(attempt-1), 30*time.Second)
	return time.Duration(rand.Int64N(int64(ceil))) + 50*time.Millisecond
}

func (r *Runtime) clear(ctx context.Context, ch Channel, d Delivery) {
	cl, ok := ch.(Clearer)
	if !ok {
		return
	}
	recent, err := r.store.Recent(ctx, d.Person, r.now().Add(-48*time.Hour))
	if err != nil {
		r.log.Warn("recent messages unknown; chat not cleared", "event", "clear_failed", "person", d.Person, "error", err)
		return
	}
	var ids []int64
	for _, m := range recent {
		_, id, _ := strings.Cut(m, ":")
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			ids = append(ids, n)
		}
	}
	if err := cl.Clear(ctx, d.Address, ids); err != nil {
		r.log.Warn("chat not fully cleared", "event", "clear_failed", "person", d.Person, "error", err)
		return
	}
	if err := r.store.ForgetRecent(ctx, d.Person); err != nil {
		r.log.Warn("recent ids not forgotten", "event", "clear_failed", "person", d.Person, "error", err)
	}
}

func (r *Runtime) openDelivery(payload []byte) (Delivery, error) {
	var d Delivery
	i := indexByte(payload, '|')
	if i < 0 {
		return d, fmt.Errorf("delivery without person prefix")
	}
	plain, err := r.sealer.Open(payload[i+1:])
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(plain, &d)
}

// Enqueue queues a delivery outside a turn (broadcasts, coach relays).
func (r *Runtime) Enqueue(ctx context.Context, d Delivery) error {
	if d.ID == "" {
		d.ID = token()
	}
	q := r.queued(d)
	_, err := r.store.Queue(r.store.OutStream(d.Channel), "senders").Add(ctx, q.Sealed)
	return err
}

// Settle waits until every queue is empty: every accepted message handled
// and every reply sent. The console uses it after its input ends.
func (r *Runtime) Settle(ctx context.Context) error {
	streams := []string{r.store.WorkStream()}
	for name := range r.channels {
		streams = append(streams, r.store.OutStream(name))
	}
	for {
		total := int64(0)
		for _, s := range streams {
			n, err := r.store.Redis().XLen(ctx, s).Result()
			if err != nil {
				return err
			}
			total += n
		}
		if total == 0 {
			return nil
		}
		sleep(ctx, 20*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
