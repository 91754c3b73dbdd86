package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/store"
)

// Outcomes counted on a broadcast.
const (
	outSent    = "sent"
	outSkipped = "skipped"
	outFailed  = "failed"
	outWaiting = "waiting" // deferred to the end of quiet hours
	outNone    = "none"    // not in the audience: nothing recorded
)

const (
	scanLease    = 30 * time.Second
	laterLease   = 2 * time.Minute
	scanBatches  = 8 // batches one fan-out turn reads
	sendAttempts = 3
)

// errStopped means the broadcast was paused or cancelled mid-chunk: the
// chunk stays pending and is taken up again on resume.
var errStopped = errors.New("broadcast paused or cancelled")

// Run sends broadcasts and starts the reminder and digest rounds that are
// due, until ctx ends. Run it in every serving process: they share the
// work through Redis.
func (s *Service) Run(ctx context.Context) error {
	r := &sendLoop{s: s}
	var wg sync.WaitGroup
	for i := range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if i == 0 {
					s.schedule(ctx)
				}
				did, err := r.step(ctx)
				if err != nil && ctx.Err() == nil {
					s.log.Warn("broadcast step failed", "event", "broadcast_step_failed", "error", err)
				}
				if !did {
					bot.Sleep(ctx, s.cfg.Poll+time.Duration(rand.Int64N(int64(s.cfg.Poll)/4+1)))
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// sendLoop is one process's sending state.
type sendLoop struct {
	s        *Service
	mu       sync.Mutex
	plans    map[string]*loaded
	inFlight map[string]bool // chunk entry ids being sent here
	claimed  map[string]time.Time
	channels map[string]bool // channels seen, for the backlog check
}

// loaded is a broadcast's stored plan.
type loaded struct {
	plan
	source string
}

func (r *sendLoop) step(ctx context.Context) (bool, error) {
	s := r.s
	ids, err := s.st.ActiveBroadcasts(ctx)
	if err != nil {
		return false, err
	}
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		did, err := r.stepOne(ctx, id)
		if err != nil {
			return did, fmt.Errorf("broadcast %s: %w", id, err)
		}
		if did {
			return true, nil
		}
	}
	return false, nil
}

func (r *sendLoop) plan(ctx context.Context, id string) (*loaded, error) {
	r.mu.Lock()
	l := r.plans[id]
	r.mu.Unlock()
	if l != nil {
		return l, nil
	}
	raw, src, err := r.s.st.BroadcastPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	l = &loaded{source: src}
	if err := json.Unmarshal(raw, &l.plan); err != nil {
		return nil, fmt.Errorf("read broadcast plan: %w", err)
	}
	r.mu.Lock()
	if r.plans == nil {
		r.plans = map[string]*loaded{}
	}
	r.plans[id] = l
	r.mu.Unlock()
	return l, nil
}

// stepOne does one piece of work on broadcast id and reports whether there
// was any.
func (r *sendLoop) stepOne(ctx context.Context, id string) (bool, error) {
	s := r.s
	b, err := s.st.Broadcast(ctx, id)
	if err != nil {
		return false, err
	}
	status, scanned := "", false
	if b != nil {
		status, scanned = b.Status, b.Scanned
	}
	now := s.now()
	switch status {
	case "", StatusDone, StatusCancelled:
		r.forget(id)
		return false, s.st.DeactivateBroadcast(ctx, id)
	case StatusPaused:
		return false, nil
	case StatusScheduled:
		if b.SendAt.UnixMilli() > now.UnixMilli() {
			return false, nil
		}
		err := s.transition(ctx, id, StatusSending, StatusScheduled)
		return err == nil, ignoreState(err)
	}
	l, err := r.plan(ctx, id)
	if err != nil {
		return false, err
	}
	w, err := s.work(ctx, l)
	if err != nil {
		return false, err
	}
	if w.over {
		// The job expired or was taken down: nobody else gets it.
		if err := s.transition(ctx, id, StatusDone, StatusSending); err != nil {
			return false, ignoreState(err)
		}
		s.cleanup(ctx, id)
		r.forget(id)
		return true, nil
	}
	if r.backlogged(ctx) {
		return false, nil
	}
	did := false
	if !scanned {
		moved, err := s.fanout(ctx, id, l.source, scanBatches)
		if err != nil {
			return false, err
		}
		did = moved
	}
	chunks := s.st.BroadcastChunks(id)
	e, err := r.takeChunk(ctx, id, chunks)
	if err != nil {
		return did, err
	}
	if e != nil {
		defer r.release(e.ID)
		err := r.sendChunk(ctx, id, w, chunks, e)
		if errors.Is(err, errStopped) {
			return true, nil
		}
		if err != nil {
			return true, err
		}
		return true, chunks.Done(ctx, *e)
	}
	due, err := s.st.ClaimWaiting(ctx, id, now, laterLease, 100)
	if err != nil {
		return did, err
	}
	if len(due) > 0 {
		profs, err := s.st.Profiles(ctx, due)
		if err != nil {
			return true, err
		}
		for i, p := range due {
			if _, err := s.serve(ctx, id, w, p, profs[i], true); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	if scanned {
		finished, err := s.st.FinishBroadcast(ctx, id, now)
		if err != nil {
			return did, err
		}
		if finished {
			s.cleanup(ctx, id)
			r.forget(id)
			st, _ := s.Get(ctx, id)
			s.log.Info("broadcast done", "event", "broadcast_done", "broadcast", id, "kind", l.Kind,
				"total", st.Total, "sent", st.Sent, "skipped", st.Skipped, "failed", st.Failed)
			return true, nil
		}
	}
	return did, nil
}

func ignoreState(err error) error {
	if errors.Is(err, ErrState) || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (r *sendLoop) forget(id string) {
	r.mu.Lock()
	delete(r.plans, id)
	delete(r.claimed, id)
	r.mu.Unlock()
}

// backlogged reports whether a channel's outbound queue is too long to
// add more to it now.
func (r *sendLoop) backlogged(ctx context.Context) bool {
	if r.s.cfg.MaxBacklog < 0 {
		return false
	}
	r.mu.Lock()
	var chans []string
	for ch := range r.channels {
		chans = append(chans, ch)
	}
	r.mu.Unlock()
	for _, ch := range chans {
		n, err := r.s.st.QueueDepth(ctx, r.s.st.OutStreams(ch)...)
		if err == nil && n > r.s.cfg.MaxBacklog {
			return true
		}
	}
	return false
}

func (r *sendLoop) sawChannel(ch string) {
	if ch == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.channels == nil {
		r.channels = map[string]bool{}
	}
	r.channels[ch] = true
}

// fanout reads up to batches batches of the audience into chunks, while
// holding the broadcast's scan lease. It reports whether it read any.
func (s *Service) fanout(ctx context.Context, id, source string, batches int) (bool, error) {
	tok := newID(12)
	ok, cursor, err := s.st.LeaseBroadcastScan(ctx, id, tok, scanLease)
	if ok {
		defer func() {
			// Unreleased, the lease ends by itself after scanLease.
			if err := s.st.ReleaseBroadcastScan(context.WithoutCancel(ctx), id, tok); err != nil {
				s.log.Warn("broadcast scan lease not released", "event", "broadcast_scan_unlock_failed", "broadcast", id, "error", err)
			}
		}()
	}
	if err != nil || !ok {
		return false, err
	}
	moved := false
	for range batches {
		c, _ := strconv.ParseUint(cursor, 10, 64)
		ids, next, err := s.st.ScanAudience(ctx, source, c, s.cfg.Batch)
		if err != nil {
			return moved, err
		}
		nextS := strconv.FormatUint(next, 10)
		added, err := s.st.AddChunk(ctx, id, tok, cursor, nextS, ids, scanLease)
		if err != nil {
			return moved, err
		}
		if !added {
			return moved, nil
		}
		moved = true
		cursor = nextS
		if next == 0 {
			return true, nil
		}
	}
	return moved, nil
}

// takeChunk returns a chunk to send: first one this consumer holds but is
// not sending (after a pause or a restart), then a new one, then one
// another process left idle too long.
//
// The chunks vanish with a broadcast cancelled meanwhile: nothing is read
// then.
func (r *sendLoop) takeChunk(ctx context.Context, id string, chunks *store.Queue) (*store.Entry, error) {
	s := r.s
	mine, err := chunks.Own(ctx, s.cfg.Consumer, 32)
	if err != nil {
		return nil, err
	}
	for _, m := range mine {
		if r.hold(m.ID) {
			return &m, nil
		}
	}
	fresh, err := chunks.Read(ctx, s.cfg.Consumer, 1, -1)
	if err != nil {
		return nil, err
	}
	for _, m := range fresh {
		if r.hold(m.ID) {
			return &m, nil
		}
	}
	r.mu.Lock()
	// Redis measures idleness in real time, so this throttle does too.
	last := r.claimed[id]
	due := time.Since(last) > s.cfg.ClaimIdle/4
	if due {
		if r.claimed == nil {
			r.claimed = map[string]time.Time{}
		}
		r.claimed[id] = time.Now()
	}
	r.mu.Unlock()
	if !due {
		return nil, nil
	}
	msgs, err := chunks.Claim(ctx, s.cfg.Consumer, s.cfg.ClaimIdle, 1)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if r.hold(m.ID) {
			s.log.Info("broadcast chunk taken over", "event", "broadcast_chunk_claimed", "broadcast", id)
			return &m, nil
		}
	}
	return nil, nil
}

// hold marks a chunk as being sent by this process; false if it already is.
func (r *sendLoop) hold(entry string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inFlight == nil {
		r.inFlight = map[string]bool{}
	}
	if r.inFlight[entry] {
		return false
	}
	r.inFlight[entry] = true
	return true
}

func (r *sendLoop) release(entry string) {
	r.mu.Lock()
	delete(r.inFlight, entry)
	r.mu.Unlock()
}

// sendChunk serves every person of a chunk not yet served.
func (r *sendLoop) sendChunk(ctx context.Context, id string, w *work, chunks *store.Queue, e *store.Entry) error {
	s := r.s
	if len(e.Payload) == 0 {
		return nil
	}
	people := strings.Split(string(e.Payload), ",")
	served, err := s.st.BroadcastServed(ctx, id, people)
	if err != nil {
		return err
	}
	var todo []string
	for i, p := range people {
		if !served[i] {
			todo = append(todo, p)
		}
	}
	for start := 0; start < len(todo); start += 100 {
		part := todo[start:min(start+100, len(todo))]
		// Keep the chunk ours: another process only takes a chunk left
		// idle for ClaimIdle.
		if err := chunks.Hold(ctx, s.cfg.Consumer, *e); err != nil {
			return err
		}
		profs, err := s.st.Profiles(ctx, part)
		if err != nil {
			return err
		}
		for i, p := range part {
			r.sawChannel(profs[i]["ch"])
			if _, err := s.serve(ctx, id, w, p, profs[i], false); err != nil {
				return err
			}
		}
	}
	return nil
}

// serve decides what person gets from broadcast id and sends it: the
// sent-set is checked just before the send and the person recorded in it
// right after.
func (s *Service) serve(ctx context.Context, id string, w *work, person string, prof map[string]string, fromLater bool) (string, error) {
	out, msgs := s.decide(w, prof)
	switch out {
	case outNone:
		if fromLater {
			return out, s.st.DropWaiting(ctx, id, person)
		}
		return out, nil
	case outSkipped:
		return out, s.mark(ctx, id, person, outSkipped)
	}
	now := s.now()
	if !w.Urgent && s.cfg.Quiet.On {
		loc := bot.Location(prof["tz"], s.cfg.DefaultTZ)
		if next := s.cfg.Quiet.Next(now, loc); next.After(now) {
			// A person met again in the audience keeps the wait set first.
			err := s.st.DeferBroadcast(ctx, id, person, next, !fromLater)
			s.after(person, outWaiting)
			return outWaiting, err
		}
	}
	state, err := s.st.CheckBroadcast(ctx, id, person)
	if err != nil {
		return "", err
	}
	switch state {
	case store.BroadcastServed:
		return outNone, nil
	case StatusSending:
	default:
		return "", errStopped
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	msgs = append([]bot.Outbound(nil), msgs...)
	for i := range msgs {
		// The kind (broadcast, reminder, job, digest) is the purpose a
		// channel with a reply window chooses its template by.
		msgs[i].Purpose = w.Kind
	}
	// A send once begun runs to its record, even when the process is
	// stopping: only a crash can leave it unrecorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var ok bool
	for attempt := 1; ; attempt++ {
		ok, err = s.rt.SendOnce(sctx, person, "bc:"+id, msgs)
		if err == nil || attempt >= sendAttempts {
			break
		}
		bot.Sleep(sctx, time.Duration(attempt)*200*time.Millisecond)
	}
	switch {
	case err != nil:
		s.log.Warn("broadcast message not queued", "event", "broadcast_send_failed", "broadcast", id, "person", person, "error", err)
		out = outFailed
	case !ok:
		out = outSkipped
	default:
		out = outSent
	}
	return out, s.mark(ctx, id, person, out)
}

// mark records person's outcome; it runs to the end even when ctx ends,
// so a stopped process does not leave a sent message unrecorded.
func (s *Service) mark(ctx context.Context, id, person, outcome string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := s.st.MarkBroadcast(ctx, id, person, outcome)
	if err != nil {
		s.log.Error("broadcast outcome not recorded; a retry may repeat it", "event", "broadcast_mark_failed", "broadcast", id, "person", person, "error", err)
		return err
	}
	s.after(person, outcome)
	return nil
}

func (s *Service) after(person, outcome string) {
	if s.testHook != nil {
		s.testHook(person, outcome)
	}
}
