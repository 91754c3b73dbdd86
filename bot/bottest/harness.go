package bottest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// Runtime builds a runner.Runtime from cfg, filling in what cfg leaves
// out with the test's: a fresh namespace on the shared test Redis sealed
// with the test sealer, the shipped content and a quiet log. It does not
// run it.
func Runtime(t testing.TB, cfg runner.Config) *runner.Runtime {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = NewStore(t)
	}
	if cfg.Content == nil {
		cfg.Content = Content(t)
	}
	if cfg.Log == nil {
		cfg.Log = Quiet()
	}
	return runner.New(cfg)
}

// NewStore returns a store in a fresh namespace on the shared test Redis,
// sealing sessions with the test Sealer, as a runtime's store must. Give
// one to two harnesses (WithStore) to have two processes share it.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	return store.New(storetest.Shared(t), storetest.Namespace(), store.WithSealer(Sealer(t)))
}

// Harness is one Lifeline "process" for a test: a runtime sending
// through recording channels (or those given), running until Stop or the
// end of the test, with whatever else the test runs beside it (Go).
type Harness struct {
	T     testing.TB
	Store *store.Store
	RT    *runner.Runtime
	// Ch is the recording channel: the one the harness made when given no
	// channels, else the first *Channel among those given (or nil).
	Ch *Channel

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	stuck  func(*Harness) string
	n      int
}

// Option changes what Start builds.
type Option func(*setup)

type setup struct {
	cfg    runner.Config
	before []func(*Harness)
	stuck  func(*Harness) string
	idle   bool
}

// WithStore runs the runtime on st (by default NewStore's): give two
// harnesses one store to have two processes share it. st must seal
// (store.WithSealer(Sealer(t))).
func WithStore(st *store.Store) Option { return func(s *setup) { s.cfg.Store = st } }

// WithChannels sends through chs (none at all when chs is empty) instead
// of one recording channel "test".
func WithChannels(chs ...bot.Channel) Option {
	return func(s *setup) { s.cfg.Channels = append([]bot.Channel{}, chs...) }
}

// Workers sets how many turns run at once (4 by default).
func Workers(n int) Option { return func(s *setup) { s.cfg.Workers = n } }

// WithConfig changes the runtime's configuration (hooks, actions, log,
// consumer name...) before it is built.
func WithConfig(f func(*runner.Config)) Option { return func(s *setup) { f(&s.cfg) } }

// Before calls f once the runtime is built, before it runs: to wire
// modules into it, or to put it in a state it must start from.
func Before(f func(*Harness)) Option { return func(s *setup) { s.before = append(s.before, f) } }

// Stuck adds what f tells to the failure of a Settle that timed out.
func Stuck(f func(*Harness) string) Option { return func(s *setup) { s.stuck = f } }

// Idle builds the runtime without running it (a process that only
// schedules, or a test that steps the runtime itself).
func Idle() Option { return func(s *setup) { s.idle = true } }

// Start builds a runtime as the options say and runs it until the test
// ends.
func Start(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	s := setup{cfg: runner.Config{Workers: 4}}
	for _, o := range opts {
		o(&s)
	}
	h := &Harness{T: t, stuck: s.stuck}
	if s.cfg.Channels == nil {
		h.Ch = NewChannel("test")
		s.cfg.Channels = []bot.Channel{h.Ch}
	}
	for _, ch := range s.cfg.Channels {
		if c, ok := ch.(*Channel); ok && h.Ch == nil {
			h.Ch = c
		}
	}
	h.RT = Runtime(t, s.cfg)
	h.Store = h.RT.Store()
	h.ctx, h.cancel = context.WithCancel(context.Background())
	t.Cleanup(h.Stop)
	for _, f := range s.before {
		f(h)
	}
	if !s.idle {
		h.Go(func(ctx context.Context) { _ = h.RT.Run(ctx) })
	}
	return h
}

// Go runs f beside the runtime until Stop, which cancels ctx and waits
// for f to return.
func (h *Harness) Go(f func(ctx context.Context)) {
	h.wg.Add(1)
	go func() { defer h.wg.Done(); f(h.ctx) }()
}

// Stop stops the runtime and everything Go started, and waits for them
// (as when the process ends). It may be called more than once.
func (h *Harness) Stop() {
	h.once.Do(func() {
		h.cancel()
		h.wg.Wait()
	})
}

// Accept hands in to the runtime, failing the test if it is refused.
func (h *Harness) Accept(in bot.Inbound) {
	h.T.Helper()
	if err := h.RT.Accept(context.Background(), in); err != nil {
		h.T.Fatal(err)
	}
}

// Say sends each text from addr on the recording channel (or the first
// channel), waiting after each until every reply is out.
func (h *Harness) Say(addr string, texts ...string) {
	h.T.Helper()
	ch := "test"
	if h.Ch != nil {
		ch = h.Ch.Name()
	}
	for _, text := range texts {
		h.n++
		h.Accept(bot.Inbound{Channel: ch, Address: addr, MessageID: fmt.Sprintf("m%d-%d", h.n, rand.Int()), Text: text})
		h.Settle()
	}
}

// Settle waits until the runtime has handled every message accepted and
// sent every reply.
func (h *Harness) Settle() {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.RT.Settle(ctx); err != nil {
		h.T.Fatalf("settle: %v; left in the queues:%s", err, h.queues())
	}
}

// queues describes what waits in the runtime's queues, for a failure.
func (h *Harness) queues() string {
	ctx := context.Background()
	var b strings.Builder
	streams := map[string][]string{"work": h.Store.WorkStreams()}
	if h.Ch != nil {
		streams["out:"+h.Ch.Name()] = h.Store.OutStreams(h.Ch.Name())
	}
	for name, shards := range streams {
		n, err := h.Store.QueueDepth(ctx, shards...)
		fmt.Fprintf(&b, "\n%s: %d entries", name, n)
		if err != nil {
			fmt.Fprintf(&b, " (%v)", err)
		}
	}
	if h.stuck != nil {
		b.WriteString(h.stuck(h))
	}
	return b.String()
}

// Lines is what the recording channel sent, as Channel.Lines shows it.
func (h *Harness) Lines() []string { return h.Ch.Lines() }

// PersonID is the pseudonymous id of the person at addr on the recording
// channel.
func (h *Harness) PersonID(addr string) string { return h.RT.PersonID(h.Ch.Name(), addr) }
