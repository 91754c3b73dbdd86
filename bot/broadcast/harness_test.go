package broadcast

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/store"
)

// proc is one Lifeline "process": a runtime sending through recording
// channels, and a broadcast Service on it.
type proc struct {
	*bottest.Harness
	t   testing.TB
	st  *store.Store
	rt  *runner.Runtime
	svc *Service

	svcCancel context.CancelFunc
	svcDone   chan struct{}
}

type procOpts struct {
	chans   []bot.Channel
	clock   *bottest.Clock
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
	if o.clock == nil {
		o.clock = bottest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	}
	h := bottest.Start(t, bottest.WithStore(st), bottest.WithChannels(o.chans...), bottest.WithConfig(func(c *runner.Config) {
		c.Actions, c.Hooks = o.actions, o.hooks
	}))
	svc := New(Config{Runtime: h.RT, Clock: o.clock.Now, Quiet: o.quiet, Batch: o.batch, Workers: o.workers,
		Poll: 5 * time.Millisecond, ClaimIdle: o.claimIdle, MaxBacklog: -1})
	sctx, scancel := context.WithCancel(context.Background())
	p := &proc{Harness: h, t: t, st: st, rt: h.RT, svc: svc, svcCancel: scancel, svcDone: make(chan struct{})}
	go func() {
		defer close(p.svcDone)
		if o.runService {
			_ = svc.Run(sctx)
		}
	}()
	t.Cleanup(p.stop)
	return p
}

// stop stops the whole process, the broadcaster first.
func (p *proc) stop() {
	p.stopService()
	p.Stop()
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
	p.Settle()
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
	var ids []string
	for _, x := range people {
		id := p.rt.PersonID(x.ch, x.addr)
		fields := map[string]any{"ch": x.ch, "addr": p.rt.Sealer().Seal([]byte(x.addr))}
		for k, v := range x.prof {
			fields[k] = v
		}
		for _, s := range x.subs {
			fields["sub."+s] = "1"
		}
		pipe.HSet(ctx, p.svc.profileKey(id), fields)
		ids = append(ids, id)
	}
	if err := p.st.IndexPeople(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

var newStore = bottest.NewStore

var waitFor = bottest.WaitFor

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
