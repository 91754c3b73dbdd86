package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/flows/crisis"
	"github.com/lifeline-org/lifeline/store"
)

// Config wires a Runtime.
type Config struct {
	// Store keeps everything; the runtime seals with its sealer
	// (store.WithSealer), which it must have.
	Store   *store.Store
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
	// (default DefaultWorkers).
	Workers int
	// Senders is the number of people each channel sends to at once
	// (default 64): a sender mostly waits, on the platform or on the
	// person's own rate limit (Telegram: one message a second to a chat),
	// and one waiting for a person holds up the others it serves.
	Senders int
	// Warm is how many people's state a process keeps after their turn,
	// for a warm turn at their next message (warm.go): default
	// DefaultWarm, none when negative.
	Warm int
	// Hooks lets other parts of Lifeline see turns (coaches, metrics).
	Hooks Hooks
	// Actions handle buttons that live outside any flow, such as "I'm
	// interested" under a job alert: a button whose option id is
	// "x:<name>:<arg>" goes to Actions[name] instead of the engine. A
	// module that needs the runtime adds its own with OnAction.
	Actions map[string]bot.Action
}

// Hooks are optional callbacks around the runtime's work.
type Hooks struct {
	// Effects are called after a turn is committed, with every effect of
	// the turn (after the runtime applied those it handles itself). A
	// module that needs the runtime adds its own with OnEffect.
	Effects []bot.EffectHandler
	// Handled is called after each turn with how long it took.
	Handled func(channel string, d time.Duration)
	// Inbound and Outbound count messages by channel and result.
	Inbound  func(channel, result string)
	Outbound func(channel, result string)
	// Warm counts warm turns (warm.go) by channel and result: answered,
	// or stale (the person's state had changed: accepted the usual way, in
	// the same round trip).
	Warm func(channel, result string)
}

func (h Hooks) inbound(ch, result string) {
	if h.Inbound != nil {
		h.Inbound(ch, result)
	}
}

func (h Hooks) warm(ch, result string) {
	if h.Warm != nil {
		h.Warm(ch, result)
	}
}

func (h Hooks) outbound(ch, result string) {
	if h.Outbound != nil {
		h.Outbound(ch, result)
	}
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
	fx       *store.Queue // after-commit effects
	// workHand, fxHand and sendHand (by channel) take what a script
	// queued and took for this process straight to its workers, effect
	// workers and senders.
	workHand *handoff
	fxHand   *handoff
	sendHand map[string]*handoff
	dec      *Decider
	actions  map[string]bot.Action
	// effects are module handlers by effect kind ("" for every kind).
	effects map[string][]bot.EffectHandler
	// warm keeps the state people's last turns here left (warm.go).
	warm *warmTurns
	// sealed is set once turns may run (Run, ProcessPerson): from then on
	// actions and effects are read without a lock, and OnAction and
	// OnEffect panic.
	sealed atomic.Bool
}

// Limits on what a person can send, and how fast a dead process's work
// is taken over: a turn's lock lives lockTTL (a turn takes milliseconds
// and is cut off at half of it), a sending lock store.SendLockTTL renewed
// while its holder waits on the platform, and another process claims
// entries left idle claimIdle.
const (
	MaxTextRunes = 4096
	lockTTL      = 10 * time.Second
	turnBatch    = 16
	claimIdle    = 8 * time.Second
	ownCheck     = 2 * time.Second
	maxAttempts  = 5
)

// New builds a Runtime. Modules that need the runtime itself (to start
// turns, to send) are built next, on it, and add their handlers with
// OnEffect and OnAction before it runs.
func New(cfg Config) *Runtime {
	sealer := cfg.Store.Sealer()
	if sealer == nil {
		panic("runner.New: the store has no sealer (store.WithSealer)")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 64
	}
	if cfg.Warm == 0 {
		cfg.Warm = DefaultWarm
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "lifeline-" + token()[:8]
	}
	r := &Runtime{
		cfg: cfg, store: cfg.Store, sealer: sealer, content: cfg.Content,
		channels: map[string]bot.Channel{}, log: cfg.Log, now: cfg.Clock,
		work:     cfg.Store.ShardedQueue(cfg.Store.WorkStreams(), store.WorkGroup),
		fx:       cfg.Store.ShardedQueue(cfg.Store.EffectStreams(), store.EffectGroup),
		actions:  maps.Clone(cfg.Actions),
		effects:  map[string][]bot.EffectHandler{"": slices.Clone(cfg.Hooks.Effects)},
		workHand: newHandoff(), fxHand: newHandoff(), sendHand: map[string]*handoff{},
		warm: newWarmTurns(cfg.Warm),
	}
	if r.actions == nil {
		r.actions = map[string]bot.Action{}
	}
	// The Decider shares the action map: OnAction adds to it before Run.
	r.dec = &Decider{content: cfg.Content, actions: r.actions, hash: sealer.Hash, log: cfg.Log}
	for _, ch := range cfg.Channels {
		r.channels[ch.Name()] = ch
		r.sendHand[ch.Name()] = newHandoff()
	}
	return r
}

// Registration. A module and the runtime need each other: the module
// starts turns and sends through the runtime, and the runtime calls the
// module's handlers. So the runtime is built first, the module on it, and
// the module's handlers are added in a registration phase that ends when
// turns may run (Run or ProcessPerson); adding one later panics.

// OnEffect adds an effect handler for the given kinds of effect (every
// kind when none is named), before the runtime runs. Handlers run after
// the turn's commit, from the durable effect queue: a crash may run one
// again, so they must be idempotent.
func (r *Runtime) OnEffect(h bot.EffectHandler, kinds ...string) {
	r.registering("OnEffect")
	if len(kinds) == 0 {
		kinds = []string{""}
	}
	for _, k := range kinds {
		r.effects[k] = append(r.effects[k], h)
	}
}

// OnAction adds an out-of-flow button handler, before the runtime runs.
func (r *Runtime) OnAction(name string, a bot.Action) {
	r.registering("OnAction")
	r.actions[name] = a
}

// registering panics once the registration phase is over: a handler added
// then would race with the turns reading the tables, or be missed by them.
func (r *Runtime) registering(what string) {
	if r.sealed.Load() {
		panic("runner: " + what + " after the runtime started running turns")
	}
}

// PersonID returns the pseudonymous id of the person at address on channel.
func (r *Runtime) PersonID(channel, address string) string {
	return r.sealer.PersonID(channel, address)
}

// Render renders a message in lang with the resource pack's data and data.
func (r *Runtime) Render(lang, msg string, data map[string]string) string {
	return r.dec.Render(lang, msg, data)
}

// Decider returns the runtime's Decider.
func (r *Runtime) Decider() *Decider { return r.dec }

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

// Run runs the work loop and one send loop per channel until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	r.sealed.Store(true)
	if err := r.work.Ensure(ctx); err != nil {
		return err
	}
	if err := r.fx.Ensure(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); r.warm.sweepLoop(ctx) }()
	go func() { defer wg.Done(); r.consume(ctx, r.work, r.workHand, r.cfg.Workers, false, r.handleWork) }()
	go func() { defer wg.Done(); r.consume(ctx, r.fx, r.fxHand, r.cfg.Workers, true, r.handleEffect) }()
	for name := range r.channels {
		q := r.store.ShardedQueue(r.store.OutStreams(name), store.SendGroup)
		if err := q.Ensure(ctx); err != nil {
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.consume(ctx, q, r.sendHand[name], r.cfg.Senders, true, r.handleDelivery) }()
	}
	wg.Wait()
	return nil
}

// ProcessPerson runs turns for person until their inbox is empty.
func (r *Runtime) ProcessPerson(ctx context.Context, person string) error {
	r.sealed.Store(true)
	_, err := r.processPerson(ctx, person, token(), nil, store.Entry{})
	return err
}

// processPerson runs turns for person until their inbox is empty, the
// first on begun when not nil (a turn already begun under tok). The
// commit that empties the inbox acknowledges entry, the work entry that
// brought the person (when it has an ID); acked says it did.
func (r *Runtime) processPerson(ctx context.Context, person, tok string, begun *store.Turn, entry store.Entry) (acked bool, err error) {
	for {
		if err := ctx.Err(); err != nil && begun == nil {
			return false, err
		}
		left, acked, err := r.oneTurn(ctx, person, tok, begun, entry)
		begun = nil
		if err != nil || left == 0 {
			return acked, err
		}
	}
}

// oneTurn runs one turn, begun already or begun here. Once begun it runs
// to its commit even when ctx ends (a stopping process), within
// lockTTL/2: a turn takes milliseconds, and one cut short would leave the
// person locked for lockTTL.
func (r *Runtime) oneTurn(ctx context.Context, person, tok string, begun *store.Turn, entry store.Entry) (left int, acked bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTTL/2)
	defer cancel()
	start := time.Now()
	t := begun
	if t == nil {
		if t, err = r.store.Begin(ctx, person, tok, lockTTL, turnBatch); err != nil || len(t.Inbox) == 0 {
			return 0, false, err // with an empty inbox Begin left the person unlocked
		}
	}
	c, alarms, err := r.decide(t, entry)
	if err != nil {
		return 0, false, err
	}
	left, taken, err := r.store.CommitTaking(ctx, t, c)
	if err != nil {
		return 0, false, err
	}
	r.committed(t, alarms, taken, start)
	return left, t.Acked, nil
}

// decide decides the turn t and makes its commit: the turn's own, with the
// effects this process's handlers carry out, and the deliveries and
// effects taken for this process's senders and effect workers. entry is
// the work entry the commit acknowledges, if any.
func (r *Runtime) decide(t *store.Turn, entry store.Entry) (store.Commit, []crisis.Hit, error) {
	c, effects, alarms, err := r.turn(t)
	if err != nil {
		return c, nil, err
	}
	c.Ack = store.Entry{Stream: entry.Stream, ID: entry.ID}
	for _, e := range effects {
		if r.handles(e.Kind) {
			c.Effects = append(c.Effects, r.sealEffect(pendingEffect{Person: t.Person, Profile: t.Profile, Effect: e, Wiped: c.Wipe}))
		}
	}
	for i, d := range c.Deliveries {
		if c.Deliveries[i].Take = r.sendHand[d.Channel].consumer(r.cfg.Consumer); c.Deliveries[i].Take != "" {
			c.SendToken = token()
		}
	}
	c.TakeEffects = r.fxHand.consumer(r.cfg.Consumer)
	return c, alarms, nil
}

// committed follows a turn's commit: it logs the crisis words found, hands
// what the commit took to this process's senders and effect workers, and
// keeps the state the commit left warm.
func (r *Runtime) committed(t *store.Turn, alarms []crisis.Hit, taken []store.Entry, start time.Time) {
	for _, hit := range alarms {
		r.log.Info("crisis words", "event", "crisis_detected", "person", t.Person, "list", hit.Lang, "relay", t.Profile[bot.RelayAlias] != "")
	}
	for _, e := range taken {
		if ch, ok := r.store.OutChannel(e.Stream); ok {
			r.sendHand[ch].give(e)
		} else {
			r.fxHand.give(e)
		}
	}
	r.warm.keep(t.Person, t.Warm, time.Now())
	if r.cfg.Hooks.Handled != nil {
		r.cfg.Hooks.Handled(t.Profile["ch"], time.Since(start))
	}
}

// DefaultWorkers is how many turns a process runs at once. Turns waiting
// on Redis together go to it as one script call (store's batching), so
// more workers mean fewer round trips under load, not more; a worker is
// a goroutine.
const DefaultWorkers = 64

func token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
