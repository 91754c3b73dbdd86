package runner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// platform is a channel "test" shared by several runtimes, counting what
// it accepted; accepted runs after it accepted a message and before it
// answers (a slow answer, a crash of Redis meanwhile).
type platform struct {
	mu       sync.Mutex
	sent     map[string]int // "addr: text" -> times accepted
	n        int
	accepted func(n int)
}

type platformChannel struct{ p *platform }

func (c platformChannel) Name() string                                  { return "test" }
func (c platformChannel) Run(ctx context.Context, _ bot.Receiver) error { <-ctx.Done(); return nil }
func (c platformChannel) Send(ctx context.Context, addr string, m bot.Outbound) (int64, error) {
	c.p.mu.Lock()
	c.p.n++
	n := c.p.n
	c.p.sent[addr+": "+m.Text]++
	hook := c.p.accepted
	c.p.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return int64(n), nil
}

// repeats returns the messages accepted more than once, and how many were
// accepted in all.
func (p *platform) repeats() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := map[string]int{}
	for k, v := range p.sent {
		if v > 1 {
			rep[k] = v
		}
	}
	return rep, p.n
}

func start(t *testing.T, st *store.Store, p *platform, name string) *runner.Runtime {
	t.Helper()
	rt := runner.New(runner.Config{Store: st, Content: bottest.Content(t), Channels: []bot.Channel{platformChannel{p}},
		Workers: 2, Consumer: name, Log: bottest.Quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return rt
}

// TestSlowSendIsSentOnce: a platform that takes 40 s to accept a message
// (longer than any lock lives unrenewed) gets it once, although a second
// process takes over the idle entry meanwhile and would send it again if
// the first sender's lock had lapsed.
func TestSlowSendIsSentOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 40 s")
	}
	st := bottest.NewStore(t)
	p := &platform{sent: map[string]int{}}
	p.accepted = func(n int) {
		if n == 1 {
			time.Sleep(40 * time.Second)
		}
	}
	a := start(t, st, p, "a")
	start(t, st, p, "b")
	ctx := context.Background()
	if err := a.Accept(ctx, bot.Inbound{Channel: "test", Address: "+slow", MessageID: "m1", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	settle, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := a.Settle(settle); err != nil {
		t.Fatal(err)
	}
	if rep, n := p.repeats(); len(rep) > 0 || n != 1 {
		t.Fatalf("%d messages accepted, repeated: %v", n, rep)
	}
}

// TestRedisLostAfterTheSendIsRecordedOnce: Redis dies (SIGKILL) right after
// the platform accepted a message and before the sender recorded it, and
// comes back 8 s later (past the sending lock's life): the sender holds the
// outcome and records it then, so nothing is sent twice and the person's
// next reply still goes out.
func TestRedisLostAfterTheSendIsRecordedOnce(t *testing.T) {
	srv := storetest.StartServer(t)
	st := store.New(srv.Client(t), "ll", store.WithSealer(bottest.Sealer(t)))
	p := &platform{sent: map[string]int{}}
	var restarted sync.WaitGroup
	restarted.Add(1)
	p.accepted = func(n int) {
		if n == 1 {
			srv.Kill()
			go func() {
				defer restarted.Done()
				time.Sleep(8 * time.Second)
				if err := srv.Start(); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	rt := start(t, st, p, "a")
	ctx := context.Background()
	if err := rt.Accept(ctx, bot.Inbound{Channel: "test", Address: "+down", MessageID: "m1", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	restarted.Wait()
	settle, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := rt.Settle(settle); err != nil {
		t.Fatal(err)
	}
	if err := rt.Accept(ctx, bot.Inbound{Channel: "test", Address: "+down", MessageID: "m2", Text: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := rt.Settle(settle); err != nil {
		t.Fatal(err)
	}
	rep, n := p.repeats()
	if len(rep) > 0 {
		t.Fatalf("sent twice: %v", rep)
	}
	if n < 2 {
		t.Fatalf("%d messages accepted; want the first reply and the answer to the second message", n)
	}
}

// TestRetentionRacesAMessage: a person about to be erased for a year's
// silence writes just before the sweep; their message (still waiting for
// its turn) and everything they had are kept.
func TestRetentionRacesAMessage(t *testing.T) {
	st := bottest.NewStore(t)
	rt := runner.New(runner.Config{Store: st, Content: bottest.Content(t),
		Channels: []bot.Channel{platformChannel{&platform{sent: map[string]int{}}}}, Log: bottest.Quiet()})
	ctx := context.Background()
	now := time.Now()
	yearAgo := now.Add(-400 * 24 * time.Hour)
	if err := rt.Accept(ctx, bot.Inbound{Channel: "test", Address: "+late", MessageID: "old", Text: "hi", At: yearAgo}); err != nil {
		t.Fatal(err)
	}
	person := rt.PersonID("test", "+late")
	if err := st.SetProfile(ctx, person, map[string]string{"retention_notice": fmt.Sprint(yearAgo.Add(24 * time.Hour).UnixMilli())}); err != nil {
		t.Fatal(err)
	}
	// The sweep reads the profile; the message lands before it erases.
	// (No worker runs: the message waits in the inbox, as it would for the
	// few milliseconds before its turn.)
	p, _ := st.Profile(ctx, person)
	if p["last"] == "" {
		t.Fatal("no last-message time")
	}
	if err := rt.Accept(ctx, bot.Inbound{Channel: "test", Address: "+late", MessageID: "new", Text: "I am back", At: yearAgo}); err != nil {
		t.Fatal(err)
	}
	_, erased, err := rt.SweepRetention(ctx, now, runner.Retention{Days: 365, DefaultTZ: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if erased != 0 {
		t.Fatalf("erased %d people with a message waiting", erased)
	}
	if p, _ := st.Profile(ctx, person); p["addr"] == "" {
		t.Fatal("the person's profile was erased with their message waiting")
	}
}

// TestTwoProcessesAnswerOnceInOrder spreads people's messages over two
// runtimes sharing one Redis, delivering some messages to both (as a
// webhook retried at another process would be): every message is answered
// exactly once, and each person's replies are those of their messages
// handled one at a time, in order.
func TestTwoProcessesAnswerOnceInOrder(t *testing.T) {
	a, b, ch := twoProcesses(t)
	words := []string{"hi", "1", "1", "1", "2", "1", "menu", "4", "banana", "5", "language", "2"}
	const people = 20
	ctx := context.Background()
	var wg sync.WaitGroup
	for p := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("+2%03d", p)
			for i, w := range words {
				in := bot.Inbound{Channel: "test", Address: addr, MessageID: fmt.Sprintf("%s-%d", addr, i), Text: w}
				first, second := a, b
				if rand.IntN(2) == 0 {
					first, second = b, a
				}
				if err := first.RT.Accept(ctx, in); err != nil {
					t.Error(err)
				}
				if rand.IntN(3) == 0 {
					if err := second.RT.Accept(ctx, in); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	a.Settle()
	b.Settle()
	got := map[string][]string{}
	for _, line := range ch.Lines() {
		addr, text, _ := strings.Cut(line, ": ")
		got[addr] = append(got[addr], text)
	}
	seq := newHarness(t, nil, nil)
	seq.Say("+seq", words...)
	var want []string
	for _, line := range seq.Lines() {
		_, text, _ := strings.Cut(line, ": ")
		want = append(want, text)
	}
	for p := range people {
		addr := fmt.Sprintf("+2%03d", p)
		if strings.Join(got[addr], "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d replies differ from the %d of one process handling the messages in order", addr, len(got[addr]), len(want))
		}
	}
}

// TestRedisRestartUnderLoad restarts a real redis-server (AOF, fsync
// always) while people write. Each person sends message after message,
// retrying one that failed with the same id until it is accepted (as a
// webhook is redelivered): after the restart every message is answered
// exactly once; nothing accepted is lost, nothing retried is doubled.
func TestRedisRestartUnderLoad(t *testing.T) {
	srv := storetest.StartServer(t)
	rdb := srv.Client(t)
	ns := storetest.Namespace()
	h := newHarness(t, store.New(rdb, ns, store.WithSealer(bottest.Sealer(t))), nil)
	ctx := context.Background()
	var mu sync.Mutex
	accepted := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("+3%03d", p)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := bot.Inbound{Channel: "test", Address: addr, MessageID: fmt.Sprintf("%s-%d", addr, i), Text: "menu"}
				for {
					c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					err := h.RT.Accept(c, in)
					cancel()
					if err == nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				mu.Lock()
				accepted[addr]++
				mu.Unlock()
				time.Sleep(40 * time.Millisecond) // under the flood limit
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	srv.Kill()
	time.Sleep(200 * time.Millisecond)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	h.Settle()
	replies := map[string]int{}
	for _, line := range h.Lines() {
		addr, _, _ := strings.Cut(line, ": ")
		replies[addr]++
	}
	total := 0
	for addr, n := range accepted {
		total += n
		// The first message gets the language menu; every later "menu"
		// the main menu: one reply each.
		if replies[addr] != n {
			t.Errorf("%s: %d messages accepted, %d answered", addr, n, replies[addr])
		}
	}
	if total == 0 {
		t.Fatal("nothing was accepted")
	}
}

// pendingHi records "hi" from addr and has Redis hand its work entry to
// consumer, whose runtime is not running yet: the entry is pending for a
// consumer that never got it. before runs next, then the runtime starts;
// once its queues are empty the person must have had the language menu,
// once.
func pendingHi(t *testing.T, consumer, addr string, before func(st *store.Store, person string)) {
	h := bottest.Start(t, bottest.Workers(2), bottest.WithConfig(func(c *runner.Config) { c.Consumer = consumer }),
		bottest.Before(func(h *bottest.Harness) {
			ctx := context.Background()
			work := h.Store.ShardedQueue(h.Store.WorkStreams(), store.WorkGroup)
			if err := work.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			h.Accept(bot.Inbound{Channel: "test", Address: addr, MessageID: "m1", Text: "hi"})
			if es, err := work.Read(ctx, consumer, 10, -1); err != nil || len(es) != 1 {
				t.Fatalf("read %v, %v", es, err)
			}
			before(h.Store, h.PersonID(addr))
		}))
	h.Settle()
	if got := h.Lines(); len(got) != 1 || !strings.Contains(got[0], "Choose your language") {
		t.Fatalf("replies %q, want the language menu once", got)
	}
}

// TestStrandedEntryResumed: an entry Redis delivered to this consumer whose
// reply never arrived (a lost connection) is found among the consumer's
// own pending entries and handled, well before another consumer could
// claim it as abandoned.
func TestStrandedEntryResumed(t *testing.T) {
	pendingHi(t, "stranded", "+4000", func(*store.Store, string) {})
}

// TestDeadHoldersEntryWaitsForItsLock: a worker died holding a person's
// lock, its entry still pending. Taken up again, the entry waits for the
// lock to expire and the message is answered, rather than being
// acknowledged as if a live holder would answer it.
func TestDeadHoldersEntryWaitsForItsLock(t *testing.T) {
	pendingHi(t, "heir", "+4100", func(st *store.Store, person string) {
		if _, err := st.Begin(context.Background(), person, "dead-worker", 2*time.Second, 16); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBegunTurnOfALostLife: a process took a message's work entry with the
// turn begun (the accept's hand-off) and died before running it. Restarted
// under the same consumer name, it finds the entry among its own, waits
// for the begun turn's lock to expire and answers, once.
func TestBegunTurnOfALostLife(t *testing.T) {
	const consumer, addr = "reborn", "+4200"
	h := bottest.Start(t, bottest.Workers(2), bottest.WithConfig(func(c *runner.Config) { c.Consumer = consumer }),
		bottest.Before(func(h *bottest.Harness) {
			ctx := context.Background()
			if err := h.Store.ShardedQueue(h.Store.WorkStreams(), store.WorkGroup).Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			sealer := h.Store.Sealer()
			_, taken, err := h.Store.AcceptTaking(ctx, store.Accepted{
				Person: h.PersonID(addr), MessageID: "m1", Channel: "test",
				Sealed:  sealer.SealJSON(bot.Inbound{Channel: "test", MessageID: "m1", Text: "hi", At: time.Now()}),
				Address: sealer.Seal([]byte(addr)), At: time.Now(),
				BeginToken: "lost-life", BeginTTL: 2 * time.Second, BeginMax: 16,
			}, consumer)
			if err != nil || len(taken) != 1 || taken[0].Begun == nil {
				t.Fatalf("the lost life took %+v, %v; want its entry with the turn begun", taken, err)
			}
		}))
	h.Settle()
	if got := h.Lines(); len(got) != 1 || !strings.Contains(got[0], "Choose your language") {
		t.Fatalf("replies %q, want the language menu once", got)
	}
}
