package runner_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// newHarness runs a runtime (one "process") on st; ch, when not nil, is
// its recording channel (two processes may share one).
func newHarness(t *testing.T, st *store.Store, ch *bottest.Channel) *bottest.Harness {
	t.Helper()
	opts := []bottest.Option{bottest.Stuck(pending)}
	if st != nil {
		opts = append(opts, bottest.WithStore(st))
	}
	if ch != nil {
		opts = append(opts, bottest.WithChannels(ch))
	}
	return bottest.Start(t, opts...)
}

// twoProcesses runs two runtimes on one Redis namespace, sending through
// one recording channel.
func twoProcesses(t *testing.T) (a, b *bottest.Harness, ch *bottest.Channel) {
	t.Helper()
	st := bottest.NewStore(t)
	ch = bottest.NewChannel("test")
	return newHarness(t, st, ch), newHarness(t, st, ch), ch
}

// pending describes the entries waiting in the runtime's queues for a
// consumer, for a failure.
func pending(h *bottest.Harness) string {
	ctx := context.Background()
	var b strings.Builder
	for stream, group := range queueGroups(h.Store, "test") {
		pend, _ := h.Store.Redis().XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group, Start: "-", End: "+", Count: 10}).Result()
		for _, p := range pend {
			fmt.Fprintf(&b, "\n  %s pending at %s for %s, delivered %d times", p.ID, p.Consumer, p.Idle.Round(time.Millisecond), p.RetryCount)
		}
	}
	return b.String()
}

// testContent is the shipped content.
var testContent = bottest.LoadContent

var onboarding = []string{"hi", "1", "1"}

func TestConversationThroughRedis(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, nil)
		h.Say("+100", onboarding...)
		h.Say("+100", "1")
		got := strings.Join(h.Lines(), "\n")
		for _, want := range []string{"Choose your language: [English | ", "What would you like to do?", "Choose a topic:"} {
			if !strings.Contains(got, want) {
				t.Errorf("transcript lacks %q:\n%s", want, got)
			}
		}
	}, store.WithSealer(bottest.Sealer(t)))
}

func TestDuplicateHandledOnce(t *testing.T) {
	h := newHarness(t, nil, nil)
	in := bot.Inbound{Channel: "test", Address: "+200", MessageID: "same", Text: "hi"}
	for range 3 {
		if err := h.RT.Accept(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	h.Settle()
	if n := len(h.Lines()); n != 1 {
		t.Fatalf("a message delivered 3 times got %d replies, want 1:\n%v", n, h.Lines())
	}
}

// TestOrderUnderConcurrency: two goroutines deliver 100 messages each for
// one person to two runtimes sharing Redis; the replies are exactly those of
// the same messages handled one at a time in the order they were accepted.
func TestOrderUnderConcurrency(t *testing.T) {
	a, b, ch := twoProcesses(t)
	a.Say("+300", onboarding...)
	words := []string{"1", "2", "menu", "3", "banana", "1", "4", "5", "language", "1"}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	for g, h := range []*bottest.Harness{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				text := words[(i*7+g*3)%len(words)]
				mu.Lock()
				err := h.RT.Accept(context.Background(), bot.Inbound{Channel: "test", Address: "+300", MessageID: fmt.Sprintf("g%d-%d", g, i), Text: text})
				order = append(order, text)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	a.Settle()
	b.Settle()
	concurrent := ch.Lines()

	seq := newHarness(t, nil, nil)
	seq.Say("+300", onboarding...)
	seq.Say("+300", order...)
	sequential := seq.Lines()
	if strings.Join(concurrent, "\n") != strings.Join(sequential, "\n") {
		t.Fatalf("concurrent transcript (%d lines) differs from sequential (%d lines)", len(concurrent), len(sequential))
	}
}

// TestRedisRestartMidLesson kills a real redis-server (AOF on) in the middle
// of the lesson, restarts it, and the conversation goes on where it was —
// with a new runtime too, as after a process restart.
func TestRedisRestartMidLesson(t *testing.T) {
	srv := storetest.StartServer(t)
	ns := storetest.Namespace()
	h := newHarness(t, store.New(srv.Client(t), ns, store.WithSealer(bottest.Sealer(t))), nil)
	h.Say("+400", onboarding...)
	h.Say("+400", "1", bottest.Digit(t, "rights", "", "documents"), "1")
	before := h.Lines()
	last := before[len(before)-1]
	if !strings.Contains(last, "Continue") {
		t.Fatalf("expected to be mid-lesson, last reply: %s", last)
	}
	h.Stop()
	srv.Kill()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, store.New(srv.Client(t), ns, store.WithSealer(bottest.Sealer(t))), nil)
	h2.Say("+400", "1")
	after := h2.Lines()
	if len(after) == 0 || strings.Contains(after[0], "Choose your language") || strings.Contains(after[0], "What would you like") {
		t.Fatalf("conversation did not continue after the restart: %v", after)
	}
}

func TestBadInputIsHandled(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.Say("+500", onboarding...)
	h.Say("+500", strings.Repeat("ü", 100_000), "\x00\xff\xfe binary \x01", "")
	lines := h.Lines()
	if len(lines) < 6 {
		t.Fatalf("want a reply to every message, got %v", lines)
	}
	for _, l := range lines {
		if strings.ContainsRune(l, 0) || len(l) > 8000 {
			t.Fatalf("bad reply %q", l[:min(len(l), 200)])
		}
	}
}

func TestNotTextGetsAPoliteAnswer(t *testing.T) {
	h := newHarness(t, nil, nil)
	if err := h.RT.Accept(context.Background(), bot.Inbound{Channel: "test", Address: "+600", MessageID: "p", NotText: true}); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if l := h.Lines(); len(l) != 1 || !strings.Contains(l[0], "only read text") {
		t.Fatalf("got %v", l)
	}
}

func TestSendRetriesAndMarksUnreachable(t *testing.T) {
	st := bottest.NewStore(t)
	ch := bottest.NewChannel("test")
	ch.FailWith(func(_ string, n int) error {
		if n <= 2 {
			return &bot.SendError{Retryable: true, RetryAfter: 10 * time.Millisecond, Code: 429}
		}
		return nil
	})
	h := newHarness(t, st, ch)
	h.Say("+700", "hi")
	if l := ch.Lines(); len(l) != 1 {
		t.Fatalf("after two 429s want the message once, got %v", l)
	}
	ch.FailWith(func(string, int) error { return &bot.SendError{Unreachable: true, Code: 403} })
	h.Say("+700", "1")
	p, err := st.Profile(context.Background(), h.RT.PersonID("test", "+700"))
	if err != nil || p["unreachable"] != "1" {
		t.Fatalf("profile %v, %v: want unreachable", p, err)
	}
}

// TestNoPersonalDataAtRest: after a conversation, no key or value in Redis
// holds the address or the text the person typed.
func TestNoPersonalDataAtRest(t *testing.T) {
	h := newHarness(t, nil, nil)
	rdb := h.Store.Redis()
	h.Say("+447700900777", "hello there secretword")
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, h.Store.Key("*")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		dump, err := rdb.Dump(ctx, k).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		for _, secret := range []string{"+447700900777", "447700900777", "secretword"} {
			if strings.Contains(k, secret) || strings.Contains(dump, secret) {
				t.Errorf("key %s holds %q in plain text", k, secret)
			}
		}
	}
}

// BenchmarkTurn measures one full turn against real Redis — accept, then
// lock, load, step, save and enqueue the reply — and the Redis round trips
// of each part.
func BenchmarkTurn(b *testing.B) {
	rdb := storetest.Shared(b)
	var trips counter
	rdb.AddHook(&trips)
	st := store.New(rdb, storetest.Namespace(), store.WithSealer(bottest.Sealer(b)))
	rt := bottest.Runtime(b, runner.Config{Store: st, Channels: []bot.Channel{bottest.NewChannel("test")}})
	ctx := context.Background()
	person := rt.PersonID("test", "+1")
	i := 0
	var accepts, turns int64
	send := func(text string) {
		i++
		n := trips.n.Load()
		if err := rt.Accept(ctx, bot.Inbound{Channel: "test", Address: "+1", MessageID: fmt.Sprint("b", i), Text: text}); err != nil {
			b.Fatal(err)
		}
		m := trips.n.Load()
		if err := rt.ProcessPerson(ctx, person); err != nil {
			b.Fatal(err)
		}
		accepts += m - n
		turns += trips.n.Load() - m
	}
	for _, s := range onboarding {
		send(s)
	}
	accepts, turns = 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		send("menu")
	}
	b.ReportMetric(float64(accepts)/float64(b.N), "accept-roundtrips/op")
	b.ReportMetric(float64(turns)/float64(b.N), "turn-roundtrips/op")
}

// counter counts Redis round trips (a pipeline counts once).
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestBuiltComplete: a runtime needs a store that seals; handlers are
// added before it runs turns, and adding one afterwards panics rather
// than racing with the turns.
func TestBuiltComplete(t *testing.T) {
	panics := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", what)
			}
		}()
		f()
	}
	panics("a store without a sealer", func() {
		runner.New(runner.Config{Store: store.New(storetest.Shared(t), storetest.Namespace()), Content: bottest.Content(t)})
	})
	h := bottest.Start(t, bottest.Idle())
	h.RT.OnEffect(func(context.Context, string, map[string]string, flows.Effect) {})
	if err := h.RT.ProcessPerson(context.Background(), "nobody"); err != nil {
		t.Fatal(err)
	}
	panics("OnEffect after a turn", func() { h.RT.OnEffect(func(context.Context, string, map[string]string, flows.Effect) {}) })
	panics("OnAction after a turn", func() { h.RT.OnAction("late", nil) })
}

// queueGroups maps each shard stream of the work queue and of channel's
// outbound queue to its consumer group.
func queueGroups(st *store.Store, channel string) map[string]string {
	m := map[string]string{}
	for _, s := range st.WorkStreams() {
		m[s] = store.WorkGroup
	}
	for _, s := range st.OutStreams(channel) {
		m[s] = store.SendGroup
	}
	return m
}

// TestHandOff: in a running runtime a message costs an accept, a commit
// and a record of each message sent. The accept hands its own worker the
// entry with the turn already begun, and the commit hands its own sender
// the entry with the person's delivery: nothing is begun, fetched or read
// back from a queue a second time, and the conversation goes on as ever.
// A person whose last turn this process ran is answered warm: the accept
// and the commit are one script.
func TestHandOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		warm int
		want map[store.Trip]int64
	}{
		{"cold", -1, map[store.Trip]int64{store.TripAccept: 1, store.TripCommit: 1, store.TripAcceptTurn: 0}},
		{"warm", 0, map[store.Trip]int64{store.TripAccept: 0, store.TripCommit: 0, store.TripAcceptTurn: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := bottest.NewStore(t)
			h := bottest.Start(t, bottest.Stuck(pending), bottest.WithStore(st), bottest.WithConfig(func(c *runner.Config) { c.Warm = tc.warm }))
			h.Say("+100", onboarding...)
			trips := st.CountTrips(nil)
			before := len(h.Lines())
			h.Say("+100", "1")
			if got := strings.Join(h.Lines()[before:], "\n"); !strings.Contains(got, "Choose a topic:") {
				t.Fatalf("the reply to 1 was not the topics:\n%s", got)
			}
			// The commit and the last record acknowledge the entries that
			// brought them: once both queues are empty, no acknowledgement
			// has made a round trip of its own.
			streams := append(st.WorkStreams(), st.OutStreams("test")...)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				depth, err := st.QueueDepth(context.Background(), streams...)
				if err == nil && depth == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("queues not empty after the reply: %d, %v%s", depth, err, pending(h))
				}
			}
			n := trips.Snapshot()
			want := map[store.Trip]int64{store.TripBegin: 0, store.TripNext: 0, store.TripWorkAck: 0, store.TripOutAck: 0}
			maps.Copy(want, tc.want)
			for trip, want := range want {
				if n[trip] != want {
					t.Errorf("%d %s round trips, want %d", n[trip], trip, want)
				}
			}
			// A blocking read may time out and start again meanwhile; none
			// may return this message's entries (then a Begin or a
			// NextOutbound would follow, counted above).
			if n[store.TripMark] < 1 {
				t.Errorf("%d messages recorded as sent, want at least 1", n[store.TripMark])
			}
			t.Logf("round trips for one message: %v", n)
		})
	}
}
