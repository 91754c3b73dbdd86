package broadcast

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// recorder is a channel that records every message by address.
type recorder struct {
	name string
	mu   sync.Mutex
	got  map[string][]bot.Outbound
	n    int
	// fail, when set, decides the error of each send attempt: n counts
	// the attempts to addr.
	fail     func(addr string, n int) error
	attempts map[string]int
	// lim, when set, spaces sends as a real channel would.
	lim *bot.Limiter
}

func newRecorder(name string) *recorder {
	return &recorder{name: name, got: map[string][]bot.Outbound{}}
}

func (r *recorder) Name() string                                  { return r.name }
func (r *recorder) Run(ctx context.Context, _ bot.Receiver) error { <-ctx.Done(); return nil }
func (r *recorder) Send(ctx context.Context, addr string, m bot.Outbound) (int64, error) {
	if r.lim != nil {
		if _, err := r.lim.Wait(ctx, addr); err != nil {
			return 0, &bot.SendError{Retryable: true, Err: err}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.fail != nil {
		if r.attempts == nil {
			r.attempts = map[string]int{}
		}
		r.attempts[addr]++
		if err := r.fail(addr, r.attempts[addr]); err != nil {
			return 0, err
		}
	}
	r.got[addr] = append(r.got[addr], m)
	return int64(r.n), nil
}

func (r *recorder) to(addr string) []bot.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Outbound(nil), r.got[addr]...)
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.got {
		n += len(m)
	}
	return n
}

var testContent = sync.OnceValues(func() (*content.Content, error) { return content.Load("", "en", "") })

func testSealer(t testing.TB) *store.Sealer {
	k := make([]byte, 32)
	s, err := store.NewSealer(k, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clock is an injected clock tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// proc is one Lifeline "process": a runtime sending through recording
// channels, and a broadcast Service on it.
type proc struct {
	t      testing.TB
	st     *store.Store
	rt     *runner.Runtime
	svc    *Service
	cancel context.CancelFunc
	done   chan struct{}

	svcCancel context.CancelFunc
	svcDone   chan struct{}
}

type procOpts struct {
	chans   []bot.Channel
	clock   *clock
	quiet   bot.QuietHours
	batch   int
	workers int
	actions map[string]bot.Action
	hooks   runner.Hooks
	// runService also runs the Service's own loop (otherwise tests step it).
	runService bool
	claimIdle  time.Duration
}

func newProc(t testing.TB, st *store.Store, o procOpts) *proc {
	t.Helper()
	c, err := testContent()
	if err != nil {
		t.Fatal(err)
	}
	if o.clock == nil {
		o.clock = newClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	}
	rt := runner.New(runner.Config{Store: st, Sealer: testSealer(t), Content: c, Channels: o.chans, Workers: 4,
		Actions: o.actions, Hooks: o.hooks})
	svc := New(Config{Runtime: rt, Clock: o.clock.now, Quiet: o.quiet, Batch: o.batch, Workers: o.workers,
		Poll: 5 * time.Millisecond, ClaimIdle: o.claimIdle, MaxBacklog: -1})
	ctx, cancel := context.WithCancel(context.Background())
	sctx, scancel := context.WithCancel(ctx)
	p := &proc{t: t, st: st, rt: rt, svc: svc, cancel: cancel, done: make(chan struct{}),
		svcCancel: scancel, svcDone: make(chan struct{})}
	go func() {
		defer close(p.done)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _ = rt.Run(ctx) }()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(p.svcDone)
			if o.runService {
				_ = svc.Run(sctx)
			}
		}()
		wg.Wait()
	}()
	t.Cleanup(p.stop)
	return p
}

// stop stops the whole process, the broadcaster first.
func (p *proc) stop() {
	p.stopService()
	p.cancel()
	<-p.done
}

// stopService stops the broadcaster alone.
func (p *proc) stopService() {
	p.svcCancel()
	<-p.svcDone
}

// drive steps the Service until it has nothing to do, then waits until
// the runtime has sent everything queued.
func (p *proc) drive() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p.svc.schedule(ctx)
	r := &sendLoop{s: p.svc}
	for {
		did, err := r.step(ctx)
		if err != nil {
			p.t.Fatalf("step: %v", err)
		}
		if !did {
			break
		}
	}
	if err := p.rt.Settle(ctx); err != nil {
		p.t.Fatalf("settle: %v", err)
	}
}

// person describes a synthetic person.
type person struct {
	addr string
	ch   string
	prof map[string]string
	subs []string
}

// addPeople creates people directly in Redis, as earlier conversations
// would have left them.
func addPeople(t testing.TB, p *proc, people ...person) {
	t.Helper()
	ctx := context.Background()
	pipe := p.st.Redis().Pipeline()
	for _, x := range people {
		id := p.rt.PersonID(x.ch, x.addr)
		fields := map[string]any{"ch": x.ch, "addr": p.rt.Sealer().Seal([]byte(x.addr))}
		for k, v := range x.prof {
			fields[k] = v
		}
		for _, s := range x.subs {
			fields["sub."+s] = "1"
			pipe.SAdd(ctx, p.st.Key("sub", s), id)
		}
		pipe.HSet(ctx, p.svc.profileKey(id), fields)
		pipe.SAdd(ctx, p.st.PeopleKey(), id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func newStore(t testing.TB) *store.Store {
	return store.New(storetest.Shared(t), storetest.Namespace())
}

// waitFor polls cond until it holds (a deadline, not a timed assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func status(t testing.TB, s *Service, id string) Status {
	t.Helper()
	st, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func joined(ms []bot.Outbound) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintln(&b, m.Text)
	}
	return b.String()
}

// redisMemory returns Redis's used_memory.
func redisMemory(t testing.TB, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			var n int64
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}
