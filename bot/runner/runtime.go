package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
)

// Config wires a Runtime.
type Config struct {
	Store   *store.Store
	Sealer  *store.Sealer
	Content *content.Content
	// Channels the runtime sends through, by name.
	Channels []bot.Channel
	// Clock tells the time; time.Now when nil.
	Clock func() time.Time
	Log   *slog.Logger
	// Consumer names this process in the consumer groups; it must be
	// unique among the processes sharing one Redis.
	Consumer string
	// Workers is the number of people whose turns are handled at once
	// (default 8): turns are CPU and Redis work.
	Workers int
	// Senders is the number of people each channel sends to at once
	// (default 64): a sender mostly waits, on the platform or on the
	// person's own rate limit (Telegram: one message a second to a chat),
	// and one waiting for a person holds up the others it serves.
	Senders int
	// Hooks lets other parts of Lifeline see turns (coaches, metrics).
	Hooks Hooks
	// Actions handle buttons that live outside any flow, such as "I'm
	// interested" under a job alert: a button whose option id is
	// "x:<name>:<arg>" goes to Actions[name] instead of the engine.
	Actions map[string]bot.Action
}

// Hooks are optional callbacks around the runtime's work.
type Hooks struct {
	// Effects are called after a turn is committed, with every effect of
	// the turn (after the runtime applied those it handles itself). With
	// none set, escalations are recorded on the case stream.
	Effects []bot.EffectHandler
	// Handled is called after each turn with how long it took.
	Handled func(channel string, d time.Duration)
	// Inbound and Outbound count messages by channel and result.
	Inbound  func(channel, result string)
	Outbound func(channel, result string)
}

func (h Hooks) inbound(ch, result string) {
	if h.Inbound != nil {
		h.Inbound(ch, result)
	}
}

func (h Hooks) outbound(ch, result string) {
	if h.Outbound != nil {
		h.Outbound(ch, result)
	}
}

// SetMetrics sets the counting hooks; call it before Run.
func (r *Runtime) SetMetrics(inbound, outbound func(channel, result string), handled func(channel string, d time.Duration)) {
	r.cfg.Hooks.Inbound, r.cfg.Hooks.Outbound, r.cfg.Hooks.Handled = inbound, outbound, handled
}

// Runtime runs conversations: Accept records inbound messages durably, the
// work loop runs each person's turns in order, and the send loops deliver
// replies exactly once where the platform allows.
type Runtime struct {
	cfg      Config
	store    *store.Store
	sealer   *store.Sealer
	content  *content.Content
	channels map[string]bot.Channel
	log      *slog.Logger
	now      func() time.Time
	work     *store.Queue
}

// Limits on what a person can send.
const (
	MaxTextRunes = 4096
	lockTTL      = 30 * time.Second
	turnBatch    = 16
	claimIdle    = 30 * time.Second
	ownCheck     = 2 * time.Second
	maxAttempts  = 5
)

// New builds a Runtime.
func New(cfg Config) *Runtime {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 64
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "lifeline-" + token()[:8]
	}
	cfg.Store.SealSessions(cfg.Sealer)
	r := &Runtime{
		cfg: cfg, store: cfg.Store, sealer: cfg.Sealer, content: cfg.Content,
		channels: map[string]bot.Channel{}, log: cfg.Log, now: cfg.Clock,
		work: cfg.Store.Queue(cfg.Store.WorkStream(), "workers"),
	}
	for _, ch := range cfg.Channels {
		r.channels[ch.Name()] = ch
	}
	return r
}

// OnEffect adds an effect handler; call it before Run.
func (r *Runtime) OnEffect(h bot.EffectHandler) {
	r.cfg.Hooks.Effects = append(r.cfg.Hooks.Effects, h)
}

// OnAction adds an out-of-flow button handler; call it before Run.
func (r *Runtime) OnAction(name string, a bot.Action) {
	if r.cfg.Actions == nil {
		r.cfg.Actions = map[string]bot.Action{}
	}
	r.cfg.Actions[name] = a
}

// PersonID returns the pseudonymous id of the person at address on channel.
func (r *Runtime) PersonID(channel, address string) string {
	return r.sealer.PersonID(channel, address)
}

// Accept implements Receiver: it records in durably (once per MessageID)
// and queues the person for a turn.
func (r *Runtime) Accept(ctx context.Context, in bot.Inbound) error {
	if in.Channel == "" || in.Address == "" || in.MessageID == "" {
		return fmt.Errorf("inbound message lacks channel, address or message id")
	}
	if in.At.IsZero() {
		in.At = r.now()
	}
	in.Text = cleanText(in.Text)
	person := r.sealer.PersonID(in.Channel, in.Address)
	addr := in.Address
	in.Address = "" // kept once, sealed, in the profile
	payload, err := json.Marshal(in)
	if err != nil {
		return err
	}
	fresh, err := r.store.Accept(ctx, store.Accepted{
		Person: person, MessageID: in.MessageID, Channel: in.Channel,
		Sealed: r.sealer.Seal(payload), Address: r.sealer.Seal([]byte(addr)),
		PlatformMsg: in.PlatformMsg, At: in.At,
	})
	if err != nil {
		r.cfg.Hooks.inbound(in.Channel, "error")
		return err
	}
	if !fresh {
		r.cfg.Hooks.inbound(in.Channel, "duplicate")
		r.log.Info("inbound duplicate ignored", "event", "inbound_duplicate", "person", person, "channel", in.Channel)
		return nil
	}
	r.cfg.Hooks.inbound(in.Channel, "accepted")
	r.log.Debug("inbound accepted", "event", "inbound_accepted", "person", person, "channel", in.Channel)
	return nil
}

// Trigger starts flow for person at their next turn, as if they had
// written, without them writing: a scheduled check-in. id names the trigger
// so a retried trigger runs once.
func (r *Runtime) Trigger(ctx context.Context, person, flow, id string) error {
	payload, err := json.Marshal(bot.Inbound{Flow: flow, MessageID: id, At: r.now()})
	if err != nil {
		return err
	}
	_, err = r.store.AcceptFor(ctx, person, id, r.sealer.Seal(payload), r.now())
	return err
}

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
	return true, r.Enqueue(ctx, bot.Delivery{Person: person, Channel: p["ch"], Address: string(addr), Msgs: started(p, msgs), Once: key})
}

// Render renders a message in lang with the resource pack's data and data.
func (r *Runtime) Render(lang, msg string, data map[string]string) string {
	return r.render(lang, []flows.Output{{Msg: msg, Data: data}})[0].Text
}

// Language returns a profile's language, or the default.
func (r *Runtime) Language(profile map[string]string) string {
	if l := profile["lang"]; l != "" && r.content.Catalog.Has(l) {
		return l
	}
	return r.content.Catalog.Default()
}

// Content returns the content the runtime serves.
func (r *Runtime) Content() *content.Content { return r.content }

// Store returns the runtime's store.
func (r *Runtime) Store() *store.Store { return r.store }

// Sealer returns the runtime's sealer.
func (r *Runtime) Sealer() *store.Sealer { return r.sealer }

// cleanText makes typed text safe to keep and show: valid UTF-8, no NULs
// or other control characters but newlines and tabs, at most MaxTextRunes.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > MaxTextRunes {
		s = string([]rune(s)[:MaxTextRunes])
	}
	return s
}

// Run runs the work loop and one send loop per channel until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	if err := r.work.Ensure(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.consume(ctx, r.work, r.cfg.Workers, false, r.handleWork) }()
	for name := range r.channels {
		q := r.store.Queue(r.store.OutStream(name), "senders")
		if err := q.Ensure(ctx); err != nil {
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.consume(ctx, q, r.cfg.Senders, true, r.handleDelivery) }()
	}
	wg.Wait()
	return nil
}

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
// pending entries and dispatches those not in hand. (go-redis retries a
// failed command itself, so such a loss need not surface as an error here.)
func (r *Runtime) consume(ctx context.Context, q *store.Queue, workers int, pooled bool, handle func(ctx context.Context, tok string, e store.Entry) error) {
	acks := make(chan string, 256)
	ackDone := make(chan struct{})
	hand := &inHand{ids: map[string]time.Time{}}
	go func() { defer close(ackDone); r.ackLoop(q, acks, hand) }()
	var wg sync.WaitGroup
	run := func(e store.Entry, tok string) {
		if r.runOne(ctx, q, e, func(ctx context.Context, e store.Entry) error { return handle(ctx, tok, e) }) {
			acks <- e.ID
		} else {
			hand.later(e.ID, time.Now().Add(claimIdle))
		}
	}
	var send func(e store.Entry) bool
	stop := func() {} // ends the workers' intake
	if pooled {
		// Any free worker takes any entry; a person's order is kept by
		// their lock in Redis, as across processes.
		sem := make(chan struct{}, workers)
		send = func(e store.Entry) bool {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				run(e, token())
			}()
			return true
		}
	} else {
		shards := make([]chan store.Entry, workers)
		for i := range shards {
			shards[i] = make(chan store.Entry, 64)
			wg.Add(1)
			tok := token()
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
	dispatch := func(es []store.Entry) {
		for _, e := range es {
			if !hand.take(e.ID, time.Now()) {
				continue
			}
			if !send(e) {
				return
			}
		}
	}
	lastClaim, lastOwn := time.Time{}, time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastOwn) > ownCheck {
			lastOwn = time.Now()
			hand.prune(lastOwn.Add(-claimIdle))
			if err := q.EachOwn(ctx, r.cfg.Consumer, 256, func(es []store.Entry) { dispatch(es) }); err != nil && ctx.Err() == nil {
				r.log.Warn("reading own pending entries failed", "event", "queue_own_failed", "queue", q.Stream, "error", err)
			}
		}
		if time.Since(lastClaim) > claimIdle/3 {
			lastClaim = time.Now()
			claimed, err := q.Claim(ctx, r.cfg.Consumer, claimIdle, 64)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("claim failed", "event", "queue_claim_failed", "queue", q.Stream, "error", err)
			}
			dispatch(claimed)
		}
		es, err := q.Read(ctx, r.cfg.Consumer, 64, 2*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("queue read failed", "event", "queue_read_failed", "queue", q.Stream, "error", err)
			lastOwn = time.Time{} // re-read our own pending entries at once
			sleep(ctx, 250*time.Millisecond)
			continue
		}
		dispatch(es)
	}
}

// inHand tracks the entries a consumer has dispatched and not yet
// acknowledged, so re-reading its own pending entries dispatches only those
// a lost reply stranded. An entry a worker gave up on is held back until
// its time, as Claim would hold it back.
type inHand struct {
	mu  sync.Mutex
	ids map[string]time.Time // id -> not before (zero: in hand now)
}

// take reports whether id may be dispatched now, and marks it in hand.
func (h *inHand) take(id string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if at, ok := h.ids[id]; ok && (at.IsZero() || now.Before(at)) {
		return false
	}
	h.ids[id] = time.Time{}
	return true
}

func (h *inHand) later(id string, at time.Time) {
	h.mu.Lock()
	h.ids[id] = at
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

func (h *inHand) done(ids []string) {
	h.mu.Lock()
	for _, id := range ids {
		delete(h.ids, id)
	}
	h.mu.Unlock()
}

// runOne handles an entry and reports whether it may be acknowledged.
func (r *Runtime) runOne(ctx context.Context, q *store.Queue, e store.Entry, handle func(context.Context, store.Entry) error) (done bool) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("handler panicked; entry left for retry", "event", "panic", "queue", q.Stream, "error", fmt.Sprint(p))
			done = false
		}
	}()
	// A failure is most often Redis restarting: retry here for a few
	// seconds, keeping this person's order, before leaving the entry for
	// another worker to claim.
	err := retry(ctx, func() error { return handle(ctx, e) })
	if err != nil && ctx.Err() == nil {
		r.log.Warn("entry left for retry", "event", "entry_retry_later", "queue", q.Stream, "error", err)
	}
	return err == nil
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
		sleep(ctx, delay)
		delay = min(delay*2, 2*time.Second)
	}
}

// ackLoop acknowledges handled entries in batches (up to 64, or what came
// within 2 ms): one round trip for many entries. A lost acknowledgement only
// means an entry is handled again, which finds nothing left to do.
func (r *Runtime) ackLoop(q *store.Queue, acks <-chan string, hand *inHand) {
	ctx := context.Background() // acknowledge what was done, even while stopping
	flush := func(ids []string) {
		if err := retry(ctx, func() error { return q.Done(ctx, ids...) }); err != nil {
			// The entries are claimed again later and find nothing to do.
			r.log.Warn("ack failed", "event", "queue_ack_failed", "queue", q.Stream, "error", err)
		}
	}
	for id := range acks {
		ids := []string{id}
		timer := time.NewTimer(2 * time.Millisecond)
	batch:
		for len(ids) < 64 {
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

// shardOf picks a worker for an entry by its person id, so one person's
// entries are handled in order within a process.
func shardOf(e store.Entry, n int) int {
	h := fnv.New32a()
	h.Write(e.Payload)
	return int(h.Sum32() % uint32(n))
}

func (r *Runtime) handleWork(ctx context.Context, tok string, e store.Entry) error {
	return drain(ctx, e, func() error { return r.processPerson(ctx, string(e.Payload), tok) })
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
			sleep(ctx, delay)
			delay = min(delay*2, time.Second)
		case !errors.Is(err, store.ErrLockLost) || attempt >= 3 || ctx.Err() != nil:
			return err
		}
	}
}

// ProcessPerson runs turns for person until their inbox is empty.
func (r *Runtime) ProcessPerson(ctx context.Context, person string) error {
	return r.processPerson(ctx, person, token())
}

func (r *Runtime) processPerson(ctx context.Context, person, tok string) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		left, err := r.oneTurn(ctx, person, tok)
		if err != nil || left == 0 {
			return err
		}
	}
}

// oneTurn runs one turn. Once begun it runs to its commit even when ctx
// ends (a stopping process), within lockTTL/2: a turn takes milliseconds,
// and one cut short would leave the person locked for lockTTL.
func (r *Runtime) oneTurn(ctx context.Context, person, tok string) (left int, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTTL/2)
	defer cancel()
	start := time.Now()
	t, err := r.store.Begin(ctx, person, tok, lockTTL, turnBatch)
	if err != nil || len(t.Inbox) == 0 {
		return 0, err // with an empty inbox Begin left the person unlocked
	}
	c, effects := r.turn(ctx, t)
	if left, err = r.store.Commit(ctx, t, c); err != nil {
		return 0, err
	}
	r.afterCommit(ctx, person, t.Profile, effects, c.Wipe)
	if r.cfg.Hooks.Handled != nil {
		r.cfg.Hooks.Handled(t.Profile["ch"], time.Since(start))
	}
	return left, nil
}

// turn applies a batch of inbox messages to the session and decides what to
// send. It does no I/O but decryption; the caller commits the result.
func (r *Runtime) turn(ctx context.Context, t *store.Turn) (store.Commit, []flows.Effect) {
	def := r.content.Def
	sess := t.Session
	c := store.Commit{Profile: map[string]string{}}
	var msgs []bot.Outbound
	var effects []flows.Effect
	var said []string // what the person wrote this turn, for a case excerpt
	var relayed []bot.Outbound
	clear := false
	crisisTold := false
	channel := t.Profile["ch"]
	// escalate adds an escalation once per reason a turn: a person who
	// writes three messages of danger at once gets one case.
	escalated := map[string]bool{}
	escalate := func(e flows.Effect) {
		if !escalated[e.Reason] {
			escalated[e.Reason] = true
			effects = append(effects, e)
		}
	}
	for _, raw := range t.Inbox {
		c.Handled++
		plain, err := r.sealer.Open(raw)
		var in bot.Inbound
		if err == nil {
			err = json.Unmarshal(plain, &in)
		}
		if err != nil {
			r.log.Error("inbound message unreadable; dropped", "event", "inbound_unreadable", "person", t.Person, "error", err)
			continue
		}
		relaying := t.Profile["relay"] != "" && in.Flow == ""
		// Safety first, before the flood limit and whatever else a turn
		// does, relay or not: the safe word, then words of danger.
		if in.Text != "" && t.Profile["safeword"] != "" && r.sealer.Hash("safeword", flows.Fold(in.Text)) == t.Profile["safeword"] {
			// The safe word: answer with harmless small talk, and quietly
			// ask a coach to act. Nothing in the chat shows it, and the
			// word itself is kept nowhere (not in the case excerpt).
			escalate(flows.Effect{Kind: flows.EffectEscalate, Reason: "safe_word", Priority: flows.PriorityUrgent})
			if r.flooded(t.Profile, c.Profile) && field(t.Profile, c.Profile, "flood_told") != "" {
				continue
			}
			msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: smallTalk(in.At)}})...)
			continue
		}
		if in.Text != "" && in.Flow == "" {
			if hit, ok := r.content.Crisis.Match(personLang(&sess, r.content), in.Text); ok {
				said = append(said, in.Text)
				escalate(flows.Effect{Kind: flows.EffectEscalate, Reason: "crisis", Priority: flows.PriorityUrgent})
				r.log.Info("crisis words", "event", "crisis_detected", "person", t.Person, "list", hit.Lang, "relay", relaying)
				flooded := r.flooded(t.Profile, c.Profile)
				if relaying {
					// The coach reads the words as they are; the case is
					// raised so that someone acts if the coach does not.
					relayed = append(relayed, r.relayLine(t.Profile["relay"], in.Text))
					continue
				}
				// The crisis reply stands alone: the words are not also
				// an answer to the flow. Under a flood it is sent once.
				if !crisisTold || !flooded {
					msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: "runtime.crisis"}})...)
					crisisTold = true
				}
				continue
			}
		}
		if in.Flow == "" && r.flooded(t.Profile, c.Profile) {
			if field(t.Profile, c.Profile, "flood_told") == "" {
				c.Profile["flood_told"] = "1"
				msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: "runtime.slow_down"}})...)
			}
			continue
		}
		if in.Text != "" {
			said = append(said, in.Text)
		}
		if in.NotText {
			if relaying {
				relayed = append(relayed, r.relayLine(t.Profile["relay"], r.Render(r.content.Catalog.Default(), "coach.not_text", nil)))
				continue
			}
			msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: "runtime.text_only"}})...)
			continue
		}
		if name, arg, ok := action(in.Choice); ok {
			if h := r.cfg.Actions[name]; h != nil {
				outs, effs := h(t.Person, t.Profile, arg)
				effects = append(effects, effs...)
				msgs = append(msgs, r.render(sessLang(&sess, r.content), outs)...)
				continue
			}
		}
		var input flows.Input
		if in.Flow != "" {
			input = flows.Input{Flow: in.Flow}
		} else if in.Choice != "" || in.Prompt != 0 {
			input = flows.Input{Choice: in.Choice, Prompt: in.Prompt}
		} else {
			input = flows.Resolve(def, &sess, in.Text, r.content.Catalog)
		}
		if relaying && in.Text != "" && !keepsWorkingInRelay(input.Intent) {
			// A coach has this person's case: the bot steps aside and
			// passes the words on.
			relayed = append(relayed, r.relayLine(t.Profile["relay"], in.Text))
			continue
		}
		next, outs, effs := flows.Step(def, sess, input, in.At)
		look := lookOf(in, sess.Flow, next.Flow, field(t.Profile, c.Profile, bot.SoundField))
		sess = next
		wiped := false
		for _, e := range effs {
			switch e.Kind {
			case flows.EffectLanguage:
				c.Profile["lang"] = e.Value
			case flows.EffectStop:
				c.Profile["stopped"] = "1"
			case flows.EffectStart:
				c.Profile["stopped"] = ""
			case flows.EffectSubscribe:
				c.Profile["sub."+e.Topic] = "1"
			case flows.EffectUnsubscribe:
				c.Profile["sub."+e.Topic] = ""
			case flows.EffectDelete:
				wiped = true
			case flows.EffectClear:
				clear = true
				if _, ok := r.channels[channel].(bot.Clearer); !ok {
					outs = append(outs, flows.Output{Msg: flows.MsgClearNoop})
				}
			case flows.EffectMyData:
				merged := maps.Clone(t.Profile)
				maps.Copy(merged, c.Profile)
				outs = append([]flows.Output{{Msg: myDataMsg, Data: map[string]string{"summary": r.myData(sessLang(&sess, r.content), &sess, merged)}}}, outs...)
			case flows.EffectSafeWord:
				// Keep only a keyed hash of the word, never the word.
				if w := flows.Fold(sess.Fields["safeword"]); w != "" {
					c.Profile["safeword"] = r.sealer.Hash("safeword", w)
				}
				delete(sess.Fields, "safeword")
			}
			effects = append(effects, e)
		}
		msgs = append(msgs, look.apply(r.render(sessLang(&sess, r.content), outs))...)
		if wiped {
			c.Wipe = true
			c.Profile = nil
			break
		}
	}
	c.Session = &sess
	for _, e := range effects {
		if e.Kind == flows.EffectEscalate && !c.Wipe {
			c.Cases = append(c.Cases, r.sealCase(Case{
				Person: t.Person, Reason: e.Reason, Priority: e.Priority, Value: e.Value,
				Lang: sessLang(&sess, r.content), Channel: channel, At: r.now(),
				Excerpt: said[max(0, len(said)-maxExcerpt):],
			}))
		}
	}
	if len(relayed) > 0 {
		if d, ok := r.relayDelivery(t, relayed); ok {
			c.Deliveries = append(c.Deliveries, r.queued(d))
		}
	}
	if len(msgs) > 0 || clear {
		addr, err := r.sealer.Open([]byte(t.Profile["addr"]))
		if err != nil {
			r.log.Error("address unreadable; replies dropped", "event", "address_unreadable", "person", t.Person, "error", err)
			return c, effects
		}
		d := bot.Delivery{ID: token(), Person: t.Person, Channel: channel, Address: string(addr), Msgs: msgs, Clear: clear, Forget: c.Wipe}
		c.Deliveries = append(c.Deliveries, r.queued(d))
	}
	return c, effects
}

// FloodLimit is how many messages a person may send in FloodWindow before
// the runtime asks them, once, to slow down and sets the rest aside.
const (
	FloodLimit  = 30
	FloodWindow = time.Minute
)

// flooded counts one inbound message against the person's window (kept in
// the profile, saved with the turn) and reports whether it is over the
// limit.
func (r *Runtime) flooded(profile, updates map[string]string) bool {
	now := r.now().UnixMilli()
	start, _ := strconv.ParseInt(field(profile, updates, "flood_at"), 10, 64)
	n, _ := strconv.Atoi(field(profile, updates, "flood_n"))
	if now-start > FloodWindow.Milliseconds() {
		start, n = now, 0
		updates["flood_told"] = ""
	}
	n++
	updates["flood_at"] = strconv.FormatInt(start, 10)
	updates["flood_n"] = strconv.Itoa(n)
	return n > FloodLimit
}

// field reads a profile field as this turn has left it so far.
func field(profile, updates map[string]string, k string) string {
	if v, ok := updates[k]; ok {
		return v
	}
	return profile[k]
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// smallTalk picks a harmless line for the safe word's answer.
func smallTalk(at time.Time) string {
	return "smalltalk." + strconv.Itoa(1+int(at.Unix()%3))
}

const myDataMsg = "mydata.summary"

// myData lists, in plain words and the person's language, everything kept
// about them.
func (r *Runtime) myData(lang string, sess *flows.Session, profile map[string]string) string {
	cat := r.content.Catalog
	line := func(id string, data map[string]string) string {
		text, err := cat.Text(lang, id, data)
		if err != nil {
			r.log.Warn("message rendered with a problem", "event", "render_problem", "message_id", id, "lang", lang, "error", err)
		}
		return "• " + text
	}
	var lines []string
	name, _ := cat.Text(lang, flows.LabelLangName, nil)
	lines = append(lines, line("mydata.language", map[string]string{"value": name}))
	lines = append(lines, line("mydata.channel", map[string]string{"value": channelName(profile["ch"])}))
	if first := millis(profile["first"]); !first.IsZero() {
		lines = append(lines, line("mydata.since", map[string]string{"value": first.Format(time.DateOnly)}))
	}
	done := 0
	for k, v := range sess.Fields {
		if strings.HasPrefix(k, "progress.") && v == "done" {
			done++
		}
	}
	if text, err := cat.Plural(lang, "mydata.lessons", done, nil); err == nil {
		lines = append(lines, "• "+text)
	}
	var subs []string
	for _, topic := range []string{"checkins", "jobs", "reminders"} {
		if profile["sub."+topic] != "" {
			t, _ := cat.Text(lang, "mydata.topic."+topic, nil)
			subs = append(subs, t)
		}
	}
	if len(subs) > 0 {
		lines = append(lines, line("mydata.subscriptions", map[string]string{"value": strings.Join(subs, ", ")}))
	}
	var about []string
	for _, k := range []string{"gender", "age", "tz"} {
		if v := firstOf(sess.Fields[k], profile[k]); v != "" {
			about = append(about, v)
		}
	}
	if len(about) > 0 {
		lines = append(lines, line("mydata.about", map[string]string{"value": strings.Join(about, ", ")}))
	}
	if profile["case"] != "" {
		lines = append(lines, line("mydata.case", nil))
	}
	if profile[bot.FieldLongFollowUp] != "" {
		lines = append(lines, line("mydata.followup", nil))
	}
	if profile["safeword"] != "" {
		lines = append(lines, line("mydata.safeword", nil))
	}
	if id := soundLine(profile); id != "" {
		lines = append(lines, line(id, nil))
	}
	if profile["stopped"] != "" {
		lines = append(lines, line("mydata.stopped", nil))
	}
	return strings.Join(lines, "\n")
}

func channelName(ch string) string {
	switch ch {
	case "telegram":
		return "Telegram"
	case "sms":
		return "SMS"
	}
	return ch
}

func millis(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// keepsWorkingInRelay lists the intents that still reach the engine while
// a coach relays: the person can always stop, erase or clear.
func keepsWorkingInRelay(it flows.Intent) bool {
	return it == flows.IntentStop || it == flows.IntentDelete || it == flows.IntentClear
}

// relayLine is one relayed message as a coach sees it: under the case's
// alias, never the person's name or number.
func (r *Runtime) relayLine(alias, text string) bot.Outbound {
	return bot.Outbound{Text: r.Render(r.content.Catalog.Default(), "coach.relay_from", map[string]string{"alias": alias, "text": text})}
}

func (r *Runtime) relayDelivery(t *store.Turn, msgs []bot.Outbound) (bot.Delivery, bool) {
	addr, err := r.sealer.Open([]byte(t.Profile[bot.RelayAddress]))
	if err != nil || t.Profile[bot.RelayChannel] == "" {
		r.log.Error("coach address unreadable; relay dropped", "event", "relay_failed", "person", t.Person)
		return bot.Delivery{}, false
	}
	return bot.Delivery{ID: token(), Person: t.Person, Channel: t.Profile[bot.RelayChannel], Address: string(addr), Msgs: msgs}, true
}

func action(choice string) (name, arg string, ok bool) {
	rest, ok := strings.CutPrefix(choice, "x:")
	if !ok {
		return "", "", false
	}
	name, arg, _ = strings.Cut(rest, ":")
	return name, arg, true
}

// queued seals a delivery for the person's outbox.
func (r *Runtime) queued(d bot.Delivery) store.Queued {
	b, _ := json.Marshal(d) // plain data: cannot fail
	return store.Queued{Channel: d.Channel, ID: d.ID, Sealed: r.sealer.Seal(b), Once: d.Once}
}

// personLang is the language the person chose, or "" before they chose
// one (crisis words are then listened for in every language).
func personLang(s *flows.Session, c *content.Content) string {
	if l := s.Lang(); c.Catalog.Has(l) {
		return l
	}
	return ""
}

func sessLang(s *flows.Session, c *content.Content) string {
	if l := s.Lang(); l != "" && c.Catalog.Has(l) {
		return l
	}
	return c.Catalog.Default()
}

// Render turns engine outputs into texts in lang.
func (r *Runtime) render(lang string, outs []flows.Output) []bot.Outbound {
	cat := r.content.Catalog
	data := r.content.Data()
	res := make([]bot.Outbound, 0, len(outs))
	for _, o := range outs {
		d := data
		if len(o.Data) > 0 {
			d = make(map[string]string, len(data)+len(o.Data))
			for k, v := range data {
				d[k] = v
			}
			for k, v := range o.Data {
				d[k] = v
			}
		}
		text, err := cat.Text(lang, o.Msg, d)
		if err != nil {
			r.log.Warn("message rendered with a problem", "event", "render_problem", "message_id", o.Msg, "lang", lang, "error", err)
		}
		out := bot.Outbound{Text: text, Prompt: o.Prompt}
		for _, opt := range o.Options {
			l := lang
			if opt.Lang != "" {
				l = opt.Lang
			}
			label, err := cat.Text(l, opt.Label, data)
			if err != nil {
				r.log.Warn("label rendered with a problem", "event", "render_problem", "message_id", opt.Label, "lang", l, "error", err)
			}
			out.Options = append(out.Options, bot.OutOption{ID: opt.ID, Label: label})
		}
		res = append(res, out)
	}
	return res
}

// afterCommit carries out the effects that touch keys outside the person's
// own (global sets) and hands the rest to the hooks (recorded answers are
// counted by gender and age band in bot/checkin's figures).
func (r *Runtime) afterCommit(ctx context.Context, person string, profile map[string]string, effects []flows.Effect, wiped bool) {
	if len(effects) == 0 {
		return
	}
	rdb := r.store.Redis()
	pipe := rdb.Pipeline()
	for _, e := range effects {
		switch e.Kind {
		case flows.EffectSubscribe:
			pipe.SAdd(ctx, r.store.Key("sub", e.Topic), person)
		case flows.EffectUnsubscribe:
			pipe.SRem(ctx, r.store.Key("sub", e.Topic), person)
		case flows.EffectDelete:
			// Every topic set the person joined is named in their profile.
			for f := range profile {
				if topic, ok := strings.CutPrefix(f, "sub."); ok {
					pipe.SRem(ctx, r.store.Key("sub", topic), person)
				}
			}
			for _, topic := range []string{"checkins", "jobs", "reminders"} {
				pipe.SRem(ctx, r.store.Key("sub", topic), person)
			}
			pipe.SRem(ctx, r.store.PeopleKey(), person)
			// Rewrite the append-only file so the erased values leave
			// Redis's files too (an error just means AOF is off or a
			// rewrite is already running).
			defer func() { _ = r.store.Redis().BgRewriteAOF(ctx).Err() }()
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		r.log.Warn("effects not all applied", "event", "effects_failed", "person", person, "error", err)
	}
	for _, e := range effects {
		if wiped && e.Kind != flows.EffectDelete {
			continue
		}
		for _, h := range r.cfg.Hooks.Effects {
			h(ctx, person, profile, e)
		}
	}
}

// Case is an escalation as the runtime records it on the case stream,
// sealed: who, why, how urgent, and a short excerpt of what the person last
// wrote (kept only on the case, and only until it expires there).
type Case struct {
	Person   string    `json:"person"`
	Reason   string    `json:"reason"`
	Priority string    `json:"priority"`
	Value    string    `json:"value,omitempty"` // e.g. the job a person is interested in
	Lang     string    `json:"lang,omitempty"`
	Channel  string    `json:"ch,omitempty"`
	At       time.Time `json:"at"`
	Excerpt  []string  `json:"excerpt,omitempty"`
}

// maxExcerpt is how many of the person's last messages a case carries.
const maxExcerpt = 3

func (r *Runtime) sealCase(c Case) []byte {
	b, _ := json.Marshal(c) // plain data: cannot fail
	return r.sealer.Seal(b)
}

// OpenCase decodes a sealed case from the case stream.
func (r *Runtime) OpenCase(sealed []byte) (Case, error) {
	var c Case
	plain, err := r.sealer.Open(sealed)
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(plain, &c)
}

// Escalate records a case for person from outside a turn (a missed
// check-in's welfare call).
func (r *Runtime) Escalate(ctx context.Context, person, reason, priority, value string) error {
	p, err := r.store.Profile(ctx, person)
	if err != nil {
		return err
	}
	c := Case{Person: person, Reason: reason, Priority: priority, Value: value, Lang: p["lang"], Channel: p["ch"], At: r.now()}
	_, err = r.store.Queue(r.store.CaseStream(), "coaches").Add(ctx, r.sealCase(c))
	return err
}

func token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
