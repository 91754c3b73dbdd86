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

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/bot"
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
					sleep(ctx, s.cfg.Poll+time.Duration(rand.Int64N(int64(s.cfg.Poll)/4+1)))
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
	ids, err := s.rdb.SMembers(ctx, s.activeKey()).Result()
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
	v, err := r.s.rdb.HMGet(ctx, r.s.metaKey(id), "plan", "source").Result()
	if err != nil {
		return nil, err
	}
	raw, _ := v[0].(string)
	src, _ := v[1].(string)
	l = &loaded{source: src}
	if err := json.Unmarshal([]byte(raw), &l.plan); err != nil {
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
	v, err := s.rdb.HMGet(ctx, s.metaKey(id), "status", "send_at", "scanned").Result()
	if err != nil {
		return false, err
	}
	status, _ := v[0].(string)
	sendAt, _ := v[1].(string)
	scanned, _ := v[2].(string)
	now := s.now()
	switch status {
	case "", StatusDone, StatusCancelled:
		s.rdb.SRem(ctx, s.activeKey(), id)
		r.forget(id)
		return false, nil
	case StatusPaused:
		return false, nil
	case StatusScheduled:
		if at, _ := strconv.ParseInt(sendAt, 10, 64); at > now.UnixMilli() {
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
	if scanned != "1" {
		moved, err := s.fanout(ctx, id, l.source, scanBatches)
		if err != nil {
			return false, err
		}
		did = moved
	}
	e, err := r.takeChunk(ctx, id)
	if err != nil {
		return did, err
	}
	if e != nil {
		defer r.release(e.ID)
		err := r.sendChunk(ctx, id, w, e)
		if errors.Is(err, errStopped) {
			return true, nil
		}
		if err != nil {
			return true, err
		}
		pipe := s.rdb.Pipeline()
		pipe.XAck(ctx, s.chunkKey(id), chunkGroup, e.ID)
		pipe.XDel(ctx, s.chunkKey(id), e.ID)
		_, err = pipe.Exec(ctx)
		return true, err
	}
	due, err := claimLaterScript.Run(ctx, s.rdb, []string{s.laterKey(id)}, now.UnixMilli(), laterLease.Milliseconds(), 100).StringSlice()
	if err != nil {
		return did, err
	}
	if len(due) > 0 {
		profs, err := s.profiles(ctx, due)
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
	if scanned == "1" {
		n, err := finishScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.chunkKey(id), s.laterKey(id)}, now.UnixMilli()).Int()
		if err != nil {
			return did, err
		}
		if n == 1 {
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
		n, err := r.s.rdb.XLen(ctx, r.s.st.OutStream(ch)).Result()
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
	ok, err := s.rdb.SetNX(ctx, s.scanKey(id), tok, scanLease).Result()
	if err != nil || !ok {
		return false, err
	}
	defer unlockScript.Run(context.WithoutCancel(ctx), s.rdb, []string{s.scanKey(id)}, tok)
	cursor, err := s.rdb.HGet(ctx, s.metaKey(id), "cursor").Result()
	if err != nil {
		return false, err
	}
	moved := false
	for range batches {
		c, _ := strconv.ParseUint(cursor, 10, 64)
		ids, next, err := s.rdb.SScan(ctx, source, c, "", int64(s.cfg.Batch)).Result()
		if err != nil {
			return moved, err
		}
		nextS := strconv.FormatUint(next, 10)
		res, err := fanoutScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.chunkKey(id), s.scanKey(id)},
			tok, cursor, nextS, len(ids), strings.Join(ids, ","), scanLease.Milliseconds()).Int()
		if err != nil {
			return moved, err
		}
		if res < 0 {
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
func (r *sendLoop) takeChunk(ctx context.Context, id string) (*redis.XMessage, error) {
	s := r.s
	key := s.chunkKey(id)
	read := func(start string, count int64) ([]redis.XMessage, error) {
		res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: chunkGroup, Consumer: s.cfg.Consumer,
			Streams: []string{key, start}, Count: count, Block: -1}).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			if strings.Contains(err.Error(), "NOGROUP") {
				return nil, nil // cancelled meanwhile
			}
			return nil, err
		}
		var out []redis.XMessage
		for _, st := range res {
			out = append(out, st.Messages...)
		}
		return out, nil
	}
	mine, err := read("0", 32)
	if err != nil {
		return nil, err
	}
	for _, m := range mine {
		if r.hold(m.ID) {
			return &m, nil
		}
	}
	fresh, err := read(">", 1)
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
	msgs, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: key, Group: chunkGroup, Consumer: s.cfg.Consumer,
		MinIdle: s.cfg.ClaimIdle, Start: "0", Count: 1}).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return nil, nil
		}
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
func (r *sendLoop) sendChunk(ctx context.Context, id string, w *work, e *redis.XMessage) error {
	s := r.s
	payload, _ := e.Values["p"].(string)
	if payload == "" {
		return nil
	}
	people := strings.Split(payload, ",")
	pipe := s.rdb.Pipeline()
	served := make([]*redis.BoolCmd, len(people))
	for i, p := range people {
		served[i] = pipe.SIsMember(ctx, s.doneKey(id), p)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	var todo []string
	for i, p := range people {
		if !served[i].Val() {
			todo = append(todo, p)
		}
	}
	for start := 0; start < len(todo); start += 100 {
		part := todo[start:min(start+100, len(todo))]
		// Keep the chunk ours: another process only takes a chunk left
		// idle for ClaimIdle.
		if err := s.rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: s.chunkKey(id), Group: chunkGroup,
			Consumer: s.cfg.Consumer, MinIdle: 0, Messages: []string{e.ID}}).Err(); err != nil {
			return err
		}
		profs, err := s.profiles(ctx, part)
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

// profiles loads people's profiles in one round trip.
func (s *Service) profiles(ctx context.Context, people []string) ([]map[string]string, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(people))
	for i, p := range people {
		cmds[i] = pipe.HGetAll(ctx, s.profileKey(p))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(people))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// serve decides what person gets from broadcast id and sends it: the
// sent-set is checked just before the send and the person recorded in it
// right after.
func (s *Service) serve(ctx context.Context, id string, w *work, person string, prof map[string]string, fromLater bool) (string, error) {
	out, msgs := s.decide(w, prof)
	switch out {
	case outNone:
		if fromLater {
			return out, s.rdb.ZRem(ctx, s.laterKey(id), person).Err()
		}
		return out, nil
	case outSkipped:
		return out, s.mark(ctx, id, person, outSkipped)
	}
	now := s.now()
	if !w.Urgent && s.cfg.Quiet.On {
		loc := bot.Location(prof["tz"], s.cfg.DefaultTZ)
		if next := s.cfg.Quiet.Next(now, loc); next.After(now) {
			mode := "nx"
			if fromLater {
				mode = "set"
			}
			err := deferScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.doneKey(id), s.laterKey(id)}, person, next.UnixMilli(), mode).Err()
			s.after(person, outWaiting)
			return outWaiting, err
		}
	}
	state, err := checkScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.doneKey(id)}, person).Text()
	if err != nil {
		return "", err
	}
	switch state {
	case "served":
		return outNone, nil
	case StatusSending:
	default:
		return "", errStopped
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
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
		sleep(sctx, time.Duration(attempt)*200*time.Millisecond)
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
	err := markScript.Run(ctx, s.rdb, []string{s.metaKey(id), s.doneKey(id), s.laterKey(id)}, person, outcome).Err()
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

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
