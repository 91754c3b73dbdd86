package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/store"
)

// SendTo queues messages for a known person on their own channel, outside
// a turn (broadcasts, reminders, a coach's words), silently unless the
// person turned sound on (see discreet.go). It reports false when the
// person is unknown.
func (r *Runtime) SendTo(ctx context.Context, person string, msgs []bot.Outbound) (bool, error) {
	return r.SendOnce(ctx, person, "", msgs)
}

// SendOnce is SendTo that queues nothing when a delivery with the same
// key was already queued for the person (within store.IdempotencyTTL): a
// job retried after a crash between queueing and recording its progress
// sends nothing twice. An empty key is SendTo.
func (r *Runtime) SendOnce(ctx context.Context, person, key string, msgs []bot.Outbound) (bool, error) {
	p, err := r.store.Profile(ctx, person)
	if err != nil {
		return false, err
	}
	if p["addr"] == "" {
		return false, nil
	}
	addr, err := r.sealer.Open([]byte(p["addr"]))
	if err != nil {
		return false, err
	}
	return true, r.Enqueue(ctx, bot.Delivery{Person: person, Channel: p["ch"], Address: string(addr), Msgs: started(p, r.Language(p), msgs), Once: key})
}

// queued seals a delivery for the person's outbox.
func (r *Runtime) queued(d bot.Delivery) store.Queued {
	q := store.Queued{Channel: d.Channel, ID: d.ID, Sealed: r.sealer.SealJSON(d), Once: d.Once}
	d.Once = "" // as the sealed one: not kept
	q.Value = d
	return q
}

func (r *Runtime) relayDelivery(t *store.Turn, msgs []bot.Outbound) (bot.Delivery, bool) {
	addr, err := r.sealer.Open([]byte(t.Profile[bot.RelayAddress]))
	if err != nil || t.Profile[bot.RelayChannel] == "" {
		r.log.Error("coach address unreadable; relay dropped", "event", "relay_failed", "person", t.Person)
		return bot.Delivery{}, false
	}
	return bot.Delivery{ID: token(), Person: t.Person, Channel: t.Profile[bot.RelayChannel], Address: string(addr), Msgs: msgs}, true
}

// Sending: each person's outbox drains in order under their sending lock.

// handleDelivery drains the outbox of the person a channel-stream entry
// names, oldest delivery first, under the person's sending lock. Each
// message is sent at most once: the count of sent messages is recorded
// right after the platform accepts each one, so only a crash between those
// two steps can repeat a message. A retryable failure leaves the entry
// pending for a later try.
//
// An entry a commit took may come with the person's sending lock and
// oldest delivery (e.Next): the first round starts with them.
func (r *Runtime) handleDelivery(ctx context.Context, tok string, e store.Entry) (acked bool, err error) {
	person := string(e.Payload)
	next := e.Next
	if e.Token != "" {
		tok = e.Token // the lock's, on every try of the entry
	}
	err = drain(ctx, e, func() error {
		for {
			if err := ctx.Err(); err != nil {
				// Stopping between deliveries: hand the person back.
				_ = r.store.UnlockSending(context.WithoutCancel(ctx), person, tok)
				return err
			}
			o := next
			next = nil
			if o == nil {
				// Not cut short by a stop: a lock taken in Redis whose
				// reply never came would be held for lockTTL.
				var err error
				if o, err = r.store.NextOutbound(context.WithoutCancel(ctx), person, tok, store.SendLockTTL); err != nil || o == nil {
					return err
				}
			}
			// The record that empties the outbox acknowledges e.
			o.Ack = store.Entry{Stream: e.Stream, ID: e.ID}
			more, err := r.deliver(ctx, person, tok, o)
			acked = o.Acked
			if err != nil {
				// Hand the person back even when stopping, so another
				// sender need not wait out the lock.
				_ = r.store.UnlockSending(context.WithoutCancel(ctx), person, tok)
				return err
			}
			if !more {
				return nil // the outbox is empty and the lock released
			}
		}
	})
	return acked, err
}

// deliver sends one delivery and reports whether more wait in the outbox.
func (r *Runtime) deliver(ctx context.Context, person, tok string, o *store.Outgoing) (bool, error) {
	drop := func() (bool, error) { return r.store.MarkSent(ctx, person, tok, o, 0, true, 0, r.now()) }
	d, err := r.openOutgoing(o)
	if err != nil {
		r.log.Error("delivery unreadable; dropped", "event", "delivery_unreadable", "person", person, "error", err)
		return drop()
	}
	ch := r.channels[d.Channel]
	if ch == nil {
		r.log.Error("delivery for a channel that is not running; dropped", "event", "delivery_no_channel", "person", person, "channel", d.Channel)
		return drop()
	}
	if d.Clear && o.Sent == 0 {
		r.clear(ctx, ch, d)
	}
	if len(d.Msgs) == 0 {
		return drop()
	}
	// The sending lock lives store.SendLockTTL; while this sender waits on
	// the platform (a slow answer, a rate limit) it renews it, so nobody
	// takes the person over and sends the same message again. Losing it
	// stops this sender before it sends anything more.
	hold := r.holdSending(ctx, person, tok)
	defer hold.stop()
	for i := o.Sent; i < len(d.Msgs); i++ {
		if hold.lost() {
			return false, store.ErrLockLost
		}
		pm, stop, err := r.sendOne(ctx, ch, d, d.Msgs[i])
		if err != nil {
			return false, err
		}
		last := stop || i == len(d.Msgs)-1
		if d.Forget {
			pm = 0
		}
		more, err := r.markSent(ctx, person, tok, o, i+1, last, pm)
		if err != nil {
			return false, err
		}
		if last {
			return more, nil
		}
	}
	return true, nil
}

// markPatience is how long a sender keeps what it sent in memory, trying
// to record it, while Redis is away.
const markPatience = 5 * time.Minute

// markSent records that a message the platform accepted was sent. The
// send happened, so the record is not given up when Redis is away (a
// restart, a failover) or the process is stopping: the outcome is kept
// here and written as soon as Redis answers, before this sender sends
// anything else for the person. Giving up would leave the message to be
// sent again. Only the death of this process (or markPatience running
// out) can still repeat it.
func (r *Runtime) markSent(ctx context.Context, person, tok string, o *store.Outgoing, n int, last bool, pm int64) (bool, error) {
	wctx := context.WithoutCancel(ctx)
	deadline := time.Now().Add(markPatience)
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		more, err := r.store.MarkSent(wctx, person, tok, o, n, last, pm, r.now())
		if err == nil {
			if attempt > 1 {
				r.log.Info("sent message recorded after Redis came back", "event", "mark_sent_late", "person", person, "attempts", attempt)
			}
			return more, nil
		}
		if errors.Is(err, store.ErrLockLost) || time.Now().After(deadline) {
			r.log.Error("sent but not recorded; it may be sent again", "event", "mark_sent_failed", "person", person, "error", err)
			return false, err
		}
		if attempt == 1 {
			r.log.Warn("sent but not yet recorded; holding it until Redis answers", "event", "mark_sent_waiting", "person", person, "error", err)
		}
		time.Sleep(delay)
		delay = min(delay*2, 2*time.Second)
	}
}

// sendingHold renews a person's sending lock in the background.
type sendingHold struct {
	cancel  context.CancelFunc
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
	renewal sync.WaitGroup // one under way
	gone    atomic.Bool
}

func (h *sendingHold) lost() bool { return h.gone.Load() }

func (h *sendingHold) stop() {
	h.mu.Lock()
	h.stopped = true
	h.timer.Stop()
	h.mu.Unlock()
	h.cancel()
	h.renewal.Wait()
}

// holdSending renews person's sending lock every third of its life until
// stopped. A renewal that finds the lock taken by another marks it lost; a
// renewal that fails (Redis away) is simply tried again. Nothing runs
// until the first renewal is due: most deliveries are sent long before.
func (r *Runtime) holdSending(ctx context.Context, person, tok string) *sendingHold {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &sendingHold{cancel: cancel}
	every := store.SendLockTTL / 3
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer = time.AfterFunc(every, func() {
		h.mu.Lock()
		if h.stopped {
			h.mu.Unlock()
			return
		}
		h.renewal.Add(1)
		h.mu.Unlock()
		defer h.renewal.Done()
		err := r.store.RenewSending(ctx, person, tok, store.SendLockTTL)
		if errors.Is(err, store.ErrLockLost) {
			h.gone.Store(true)
			r.log.Warn("sending lock lost; this sender stops for the person", "event", "send_lock_lost", "person", person)
			return
		}
		h.mu.Lock()
		if !h.stopped {
			h.timer.Reset(every)
		}
		h.mu.Unlock()
	})
	return h
}

// sendOne sends one message with retries. stop reports that the rest of the
// delivery should be dropped (the person is unreachable or opted out).
func (r *Runtime) sendOne(ctx context.Context, ch bot.Channel, d bot.Delivery, m bot.Outbound) (pm int64, stop bool, err error) {
	for attempt := 1; ; attempt++ {
		pm, err := ch.Send(ctx, d.Address, m)
		if err == nil {
			r.cfg.Hooks.outbound(d.Channel, "sent")
			return pm, false, nil
		}
		se := bot.AsSendError(err)
		r.cfg.Hooks.outbound(d.Channel, outcome(se))
		switch {
		case se.Unreachable || se.OptedOut:
			fields := map[string]string{"unreachable": "1"}
			if se.OptedOut {
				fields = map[string]string{"stopped": "1", "optout": "carrier"}
			}
			if err := r.store.SetProfile(ctx, d.Person, fields); err != nil {
				return 0, false, err
			}
			r.log.Info("person unreachable; delivery dropped", "event", "send_unreachable", "person", d.Person, "channel", d.Channel, "code", se.Code, "opted_out", se.OptedOut)
			return 0, true, nil
		case !se.Retryable:
			r.log.Warn("message refused by the platform; not retried", "event", "send_refused", "person", d.Person, "channel", d.Channel, "code", se.Code, "error", se.Err)
			return 0, false, nil
		case attempt >= maxAttempts:
			return 0, false, fmt.Errorf("send: %d attempts failed: %w", attempt, err)
		}
		wait := se.RetryAfter
		if wait <= 0 {
			wait = backoff(attempt)
		}
		r.log.Info("send failed; retrying", "event", "send_retry", "person", d.Person, "channel", d.Channel, "code", se.Code, "wait_ms", wait.Milliseconds())
		bot.Sleep(ctx, wait)
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
	}
}

// backoff is exponential with full jitter: up to 250ms, 500ms, 1s, …, 30s.
func backoff(attempt int) time.Duration {
	ceil := min(250*time.Millisecond<<(attempt-1), 30*time.Second)
	return time.Duration(rand.Int64N(int64(ceil))) + 50*time.Millisecond
}

func (r *Runtime) clear(ctx context.Context, ch bot.Channel, d bot.Delivery) {
	cl, ok := ch.(bot.Clearer)
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

// openOutgoing is the delivery o holds: the one its commit handed over
// when there is one (as sealed, without opening it), else opened.
func (r *Runtime) openOutgoing(o *store.Outgoing) (bot.Delivery, error) {
	if d, ok := o.Value.(bot.Delivery); ok {
		return d, nil
	}
	return r.openDelivery(o.Sealed)
}

func (r *Runtime) openDelivery(sealed []byte) (bot.Delivery, error) {
	var d bot.Delivery
	return d, r.sealer.OpenJSON(sealed, &d)
}

// Enqueue queues a delivery outside a turn (broadcasts, coach relays).
func (r *Runtime) Enqueue(ctx context.Context, d bot.Delivery) error {
	if d.ID == "" {
		d.ID = token()
	}
	_, err := r.store.Enqueue(ctx, d.Person, r.queued(d), r.now())
	return err
}

// Settle waits until every queue is empty: every accepted message handled
// and every reply sent. The console uses it after its input ends.
func (r *Runtime) Settle(ctx context.Context) error {
	streams := append(r.store.WorkStreams(), r.store.EffectStreams()...)
	for name := range r.channels {
		streams = append(streams, r.store.OutStreams(name)...)
	}
	for {
		total, err := r.store.QueueDepth(ctx, streams...)
		if err != nil {
			return err
		}
		if total == 0 {
			return nil
		}
		bot.Sleep(ctx, 20*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// outcome names a failed send for the metrics.
func outcome(se *bot.SendError) string {
	switch {
	case se.Unreachable || se.OptedOut:
		return "unreachable"
	case se.Retryable:
		return "retry"
	}
	return "refused"
}
