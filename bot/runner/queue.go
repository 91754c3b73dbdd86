package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/store"
)

// The queues: work and send entries name a person; whoever holds the
// person's lock drains everything queued for them.
// consume reads q and hands each entry to a worker: sharded, to one of
// workers chosen by the entry's person, or pooled, to any of workers free.
// Either way one person's entries are handled in order, because whoever
// holds the person's lock drains everything queued for them (see drain).
// Turns are sharded: they are short, and a shard worker re-enters a lock
// it took itself. Sends are pooled: a sender may wait a second or more on
// one person (Telegram allows one message a second to a chat), and in a
// shard everyone behind that person would wait too.
//
// A worker locks people with a token kept across its retries of an entry
// (a shard worker: one token for all its entries): when Redis carried out
// a lock but the reply was lost (a restart, a dropped connection), the next
// try finds the lock its own instead of waiting out lockTTL. A token is
// never used by two goroutines at once.
//
// A read Redis carried out whose reply was lost leaves entries pending for
// this consumer that no worker has: every ownCheck the loop re-reads its own
// pending entries and dispatches those not in hand. (The Redis client
// retries a failed command itself, so such a loss need not surface as an
// error here.)
//
// Entries a script took for this consumer as it queued them (h: see
// handoff) reach the workers the same way, without a read.
//
// A handler reports whether the script that finished its work also
// acknowledged the entry (store.Commit.Ack, Outgoing.Ack); the others
// are acknowledged in batches (ackLoop).
func (r *Runtime) consume(ctx context.Context, q *store.Queue, h *handoff, workers int, pooled bool, handle func(ctx context.Context, tok string, e store.Entry) (acked bool, err error)) {
	acks := make(chan store.Entry, 2*ackBatch)
	ackDone := make(chan struct{})
	hand := &inHand{ids: map[string]time.Time{}}
	go func() { defer close(ackDone); r.ackLoop(q, acks, hand) }()
	var wg sync.WaitGroup
	run := func(e store.Entry, tok string) {
		done, acked := r.runOne(ctx, q, e, func(ctx context.Context, e store.Entry) (bool, error) { return handle(ctx, tok, e) })
		switch {
		case acked:
			hand.done([]store.Entry{e})
		case done:
			acks <- e
		default:
			hand.later(e, time.Now().Add(claimIdle))
		}
	}
	var send func(e store.Entry) bool
	stop := func() {} // ends the workers' intake
	if pooled {
		// Any free worker takes any entry; a person's order is kept by
		// their lock in Redis, as across processes. The workers live as
		// long as the loop: a goroutine started for each entry would
		// grow its stack anew each time (a tenth of the runtime's CPU).
		jobs := make(chan store.Entry)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for e := range jobs {
					run(e, token())
				}
			}()
		}
		stop = func() { close(jobs) }
		send = func(e store.Entry) bool {
			select {
			case jobs <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
	} else {
		shards := make([]chan store.Entry, workers)
		for i := range shards {
			shards[i] = make(chan store.Entry, 64)
			wg.Add(1)
			// A shard worker's token is named after the consumer (unique
			// among live processes) and the shard, so a process restarted
			// under the same name re-enters the locks its previous life
			// held instead of waiting for them to expire.
			tok := fmt.Sprintf("%s/%s/%d", r.cfg.Consumer, q.Name(), i)
			go func(c chan store.Entry) {
				defer wg.Done()
				for e := range c {
					run(e, tok)
				}
			}(shards[i])
		}
		stop = func() {
			for _, c := range shards {
				close(c)
			}
		}
		send = func(e store.Entry) bool {
			select {
			case shards[shardOf(e, len(shards))] <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
	}
	defer func() {
		stop()
		wg.Wait()
		close(acks)
		<-ackDone
	}()
	// claim marks e in hand, or reports that it is already.
	claim := func(e store.Entry) bool {
		if hand.take(e, time.Now()) {
			return true
		}
		// A lock that came with it is nobody's.
		if e.Next != nil {
			_ = r.store.UnlockSending(context.WithoutCancel(ctx), string(e.Payload), e.Token)
		}
		if e.Begun != nil {
			_ = r.store.UnlockTurn(context.WithoutCancel(ctx), string(e.Payload), e.Token)
		}
		return false
	}
	dispatch := func(es []store.Entry) {
		for _, e := range es {
			if claim(e) && !send(e) {
				return
			}
		}
	}
	if h != nil {
		handed := make(chan struct{})
		go func() {
			defer close(handed)
			for {
				select {
				case <-ctx.Done():
					return
				case <-h.wake:
					// Claimed as they were given.
					for _, e := range h.taken() {
						if !send(e) {
							return
						}
					}
				}
			}
		}()
		h.start(claim)
		defer func() {
			// Before the workers stop: what is left stays pending for
			// this consumer, and its next life re-reads it (EachOwn).
			h.start(nil)
			<-handed
		}()
	}
	lastClaim, lastOwn := time.Time{}, time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastOwn) > ownCheck {
			lastOwn = time.Now()
			hand.prune(lastOwn.Add(-claimIdle))
			if err := q.EachOwn(ctx, r.cfg.Consumer, 256, func(es []store.Entry) { dispatch(es) }); err != nil && ctx.Err() == nil {
				r.log.Warn("reading own pending entries failed", "event", "queue_own_failed", "queue", q.Name(), "error", err)
			}
		}
		if time.Since(lastClaim) > claimIdle/3 {
			lastClaim = time.Now()
			claimed, err := q.Claim(ctx, r.cfg.Consumer, claimIdle, 64)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("claim failed", "event", "queue_claim_failed", "queue", q.Name(), "error", err)
			}
			dispatch(claimed)
		}
		es, err := q.Read(ctx, r.cfg.Consumer, 64, 2*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("queue read failed", "event", "queue_read_failed", "queue", q.Name(), "error", err)
			lastOwn = time.Time{} // re-read our own pending entries at once
			bot.Sleep(ctx, 250*time.Millisecond)
			continue
		}
		dispatch(es)
	}
}

// handoff takes entries that a script queued and, in the same round trip,
// took for this process's consumer (store.AcceptTaking, CommitTaking) to
// the workers of the running consume loop: what a read of the queue would
// have returned, without the read. Such entries are pending for the
// consumer like any it read, so a process that dies with them in hand
// leaves them to be claimed, as always.
//
// An entry is marked in hand as it is given, so the loop's periodic
// re-read of its own pending entries never dispatches it a second time
// while it waits here, without the turn or delivery that came with it.
type handoff struct {
	mu    sync.Mutex
	claim func(store.Entry) bool // the running loop's; nil when none runs
	es    []store.Entry
	wake  chan struct{}
}

// start sets the running loop's claim, or none. What an earlier loop
// left behind is dropped: it is pending for the consumer, and the new
// loop's re-read of its own entries finds it.
func (h *handoff) start(claim func(store.Entry) bool) {
	h.mu.Lock()
	h.claim = claim
	h.es = nil
	h.mu.Unlock()
}

func newHandoff() *handoff { return &handoff{wake: make(chan struct{}, 1)} }

// consumer is the consumer to take entries for: "" (take none) unless a
// consume loop runs to hand them to.
func (h *handoff) consumer(name string) string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.claim == nil {
		return ""
	}
	return name
}

// give hands entries to the consume loop; it never waits. With no loop
// running they stay pending for the consumer, for its next life.
func (h *handoff) give(es ...store.Entry) {
	if h == nil || len(es) == 0 {
		return
	}
	h.mu.Lock()
	claim := h.claim
	h.mu.Unlock()
	if claim == nil {
		return
	}
	var kept []store.Entry
	for _, e := range es {
		if claim(e) {
			kept = append(kept, e)
		}
	}
	h.mu.Lock()
	h.es = append(h.es, kept...)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *handoff) taken() []store.Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	es := h.es
	h.es = nil
	return es
}

// inHand tracks the entries a consumer has dispatched and not yet
// acknowledged, so re-reading its own pending entries dispatches only those
// a lost reply stranded. An entry a worker gave up on is held back until
// its time, as Claim would hold it back.
type inHand struct {
	mu  sync.Mutex
	ids map[string]time.Time // stream/id -> not before (zero: in hand now)
}

// handKey names an entry: ids are unique within a stream only.
func handKey(e store.Entry) string { return e.Stream + "/" + e.ID }

// take reports whether id may be dispatched now, and marks it in hand.
func (h *inHand) take(e store.Entry, now time.Time) bool {
	id := handKey(e)
	h.mu.Lock()
	defer h.mu.Unlock()
	if at, ok := h.ids[id]; ok && (at.IsZero() || now.Before(at)) {
		return false
	}
	h.ids[id] = time.Time{}
	return true
}

func (h *inHand) later(e store.Entry, at time.Time) {
	h.mu.Lock()
	h.ids[handKey(e)] = at
	h.mu.Unlock()
}

// prune forgets entries given up on before cutoff: another consumer may
// have claimed them since.
func (h *inHand) prune(cutoff time.Time) {
	h.mu.Lock()
	for id, at := range h.ids {
		if !at.IsZero() && at.Before(cutoff) {
			delete(h.ids, id)
		}
	}
	h.mu.Unlock()
}

func (h *inHand) done(es []store.Entry) {
	h.mu.Lock()
	for _, e := range es {
		delete(h.ids, handKey(e))
	}
	h.mu.Unlock()
}

// runOne handles an entry and reports whether it may be acknowledged, and
// whether its handler's last script already did.
func (r *Runtime) runOne(ctx context.Context, q *store.Queue, e store.Entry, handle func(context.Context, store.Entry) (bool, error)) (done, acked bool) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("handler panicked; entry left for retry", "event", "panic", "queue", q.Name(), "error", fmt.Sprint(p))
			done, acked = false, false
		}
	}()
	// A failure is most often Redis restarting: retry here for a few
	// seconds, keeping this person's order, before leaving the entry for
	// another worker to claim.
	err := retry(ctx, func() error {
		var err error
		acked, err = handle(ctx, e)
		// What came with the entry serves its first try only (a
		// delivery it began may be further on by now).
		e.Next, e.Begun = nil, nil
		return err
	})
	if err != nil && ctx.Err() == nil {
		r.log.Warn("entry left for retry", "event", "entry_retry_later", "queue", q.Name(), "error", err)
	}
	return err == nil, err == nil && acked
}

// retry runs f up to 6 times, 100 ms apart and doubling up to 2 s (about
// 3 s in all: long enough for Redis to restart), until it succeeds or ctx
// ends, and returns its last error.
func retry(ctx context.Context, f func() error) error {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt == 6 || ctx.Err() != nil {
			return err
		}
		bot.Sleep(ctx, delay)
		delay = min(delay*2, 2*time.Second)
	}
}

// ackLoop acknowledges handled entries in batches (up to ackBatch, or what
// came within ackWait): one round trip for many entries. Nobody waits on
// an acknowledgement, so it may wait for company; a lost one only means an
// entry is handled again, which finds nothing left to do.
func (r *Runtime) ackLoop(q *store.Queue, acks <-chan store.Entry, hand *inHand) {
	ctx := context.Background() // acknowledge what was done, even while stopping
	flush := func(es []store.Entry) {
		if err := retry(ctx, func() error { return q.Done(ctx, es...) }); err != nil {
			// The entries are claimed again later and find nothing to do.
			r.log.Warn("ack failed", "event", "queue_ack_failed", "queue", q.Name(), "error", err)
		}
	}
	for e := range acks {
		ids := []store.Entry{e}
		timer := time.NewTimer(ackWait)
	batch:
		for len(ids) < ackBatch {
			select {
			case more, ok := <-acks:
				if !ok {
					break batch
				}
				ids = append(ids, more)
			case <-timer.C:
				break batch
			}
		}
		timer.Stop()
		flush(ids)
		hand.done(ids)
	}
}

// An acknowledgement waits up to ackWait for others to go with it.
const (
	ackWait  = 20 * time.Millisecond
	ackBatch = 128
)

// shardOf picks a worker for an entry by its person id, so one person's
// entries are handled in order within a process.
func shardOf(e store.Entry, n int) int {
	h := fnv.New32a()
	h.Write(e.Payload)
	return int(h.Sum32() % uint32(n))
}

// handleWork drains the inbox of the person e names. An entry an accept
// took may come with their turn begun (e.Begun): the first turn starts
// with it, under its lock's token.
func (r *Runtime) handleWork(ctx context.Context, tok string, e store.Entry) (acked bool, err error) {
	begun := e.Begun
	if e.Token != "" {
		tok = e.Token
	}
	err = drain(ctx, e, func() error {
		t := begun
		begun = nil
		var err error
		acked, err = r.processPerson(ctx, string(e.Payload), tok, t, e)
		return err
	})
	return acked, err
}

// drain runs f, which drains one person's inbox or outbox under their lock.
//
// When another worker (maybe in another process) holds the person and e is
// a first delivery, drain returns nil at once: the holder handles
// everything already queued, as a lock is released only by the script that
// finds nothing left, so e has nothing left to do and may be acknowledged.
// An entry delivered again (claimed, or re-read after a lost reply) may be
// the holder's own, left by a worker that died holding the lock: drain then
// waits for the lock, which expires within lockTTL, and drains itself.
//
// When this worker's own lock expired under it (a turn that outlived
// lockTTL), f runs again.
func drain(ctx context.Context, e store.Entry, f func() error) error {
	delay := 20 * time.Millisecond
	deadline := time.Now().Add(lockTTL + 5*time.Second)
	for attempt := 0; ; attempt++ {
		err := f()
		switch {
		case errors.Is(err, store.ErrLocked) && !e.Again:
			return nil
		case errors.Is(err, store.ErrLocked) && time.Now().Before(deadline) && ctx.Err() == nil:
			bot.Sleep(ctx, delay)
			delay = min(delay*2, time.Second)
		case !errors.Is(err, store.ErrLockLost) || attempt >= 3 || ctx.Err() != nil:
			return err
		}
	}
}
