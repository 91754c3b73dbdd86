package bottest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
)

// TestChannelRecordsAndFails: a failure hook sees each address's attempts
// from 1; refused sends are not recorded; Lines shows buttons' labels.
func TestChannelRecordsAndFails(t *testing.T) {
	ch := bottest.NewChannel("test")
	busy := errors.New("busy")
	ch.FailWith(func(addr string, n int) error {
		if addr == "+1" && n == 1 {
			return busy
		}
		return nil
	})
	ctx := context.Background()
	if _, err := ch.Send(ctx, "+1", bot.Outbound{Text: "a"}); !errors.Is(err, busy) {
		t.Fatalf("first attempt: %v", err)
	}
	for _, s := range []struct{ addr, text string }{{"+1", "a"}, {"+2", "b"}} {
		if _, err := ch.Send(ctx, s.addr, bot.Outbound{Text: s.text, Options: []bot.OutOption{{ID: "x", Label: "X"}, {ID: "y", Label: "Y"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(ch.Lines(), "\n"); got != "+1: a [X | Y]\n+2: b [X | Y]" {
		t.Errorf("lines %q", got)
	}
	if got := ch.Texts("+2"); len(got) != 1 || got[0] != "b [X | Y]" {
		t.Errorf("texts to +2: %q", got)
	}
	if got := ch.To("+1"); len(got) != 1 || !bottest.Said(got, "a") || ch.Total() != 2 {
		t.Errorf("to +1: %+v, total %d", got, ch.Total())
	}
}

// TestReceiverHook: the hook's error is Accept's, and what it refuses is
// not recorded.
func TestReceiverHook(t *testing.T) {
	r := bottest.NewReceiver(func(n int, _ bot.Inbound) error {
		if n == 2 {
			return errors.New("down")
		}
		return nil
	})
	for i, want := range []bool{true, false, true} {
		if err := r.Accept(context.Background(), bot.Inbound{MessageID: string(rune('a' + i))}); (err == nil) != want {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
	if got := r.Accepted(); len(got) != 2 || got[1].MessageID != "c" {
		t.Errorf("accepted %+v", got)
	}
}

// TestClock: the clock stays where it is set, in its location, and moves
// only when told, from any goroutine.
func TestClock(t *testing.T) {
	loc := time.FixedZone("X", 3*3600)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, loc)
	c := bottest.NewClock(start)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Add(time.Minute) }()
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(start.Add(10*time.Minute)) || got.Location() != loc {
		t.Errorf("now %v", got)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Errorf("set: %v", c.Now())
	}
}

// TestHarnessConversation: two harnesses on one store are two processes;
// a message gets its reply once, on the recording channel, and Before
// runs before the runtime does.
func TestHarnessConversation(t *testing.T) {
	ch := bottest.NewChannel("test")
	ran := false
	a := bottest.Start(t, bottest.WithChannels(ch), bottest.Workers(2), bottest.Before(func(h *bottest.Harness) {
		ran = h.RT != nil && h.Store != nil
	}))
	b := bottest.Start(t, bottest.WithStore(a.Store), bottest.WithChannels(ch))
	if !ran || a.Ch != ch || b.Ch != ch {
		t.Fatal("Before did not run, or the channel given is not the harness's")
	}
	a.Say("+1", "hi")
	b.Settle()
	if got := a.Lines(); len(got) != 1 || !strings.Contains(got[0], "+1: ") || !strings.Contains(got[0], "English") {
		t.Fatalf("replies %q", got)
	}
	if a.PersonID("+1") != b.RT.PersonID("test", "+1") {
		t.Error("two processes see two ids for one person")
	}
	a.Stop()
	a.Stop()
}

// TestIdleAndGo: an idle harness does not handle what it accepts until the
// test runs it; what Go starts stops with the harness.
func TestIdleAndGo(t *testing.T) {
	h := bottest.Start(t, bottest.Idle(), bottest.WithConfig(func(c *runner.Config) { c.Consumer = "idle" }))
	h.Accept(bot.Inbound{Channel: "test", Address: "+2", MessageID: "m", Text: "hi"})
	stopped := make(chan struct{})
	h.Go(func(ctx context.Context) { <-ctx.Done(); close(stopped) })
	time.Sleep(50 * time.Millisecond)
	if n := h.Ch.Total(); n != 0 {
		t.Fatalf("an idle runtime sent %d messages", n)
	}
	if err := h.RT.ProcessPerson(context.Background(), h.PersonID("+2")); err != nil {
		t.Fatal(err)
	}
	h.Stop()
	<-stopped
}

// TestDigits: the digits of the shipped menus.
func TestDigits(t *testing.T) {
	if d := bottest.LangDigit(t, "en"); d != "1" {
		t.Errorf("English is %s", d)
	}
	if d := bottest.Digit(t, "rights", "", "documents"); d == "" {
		t.Error("no documents lesson")
	}
	if s := bottest.Text(t, "en", "runtime.crisis"); s == "" {
		t.Error("no crisis text")
	}
}

// TestWaitFor: WaitFor returns once the condition holds.
func TestWaitFor(t *testing.T) {
	start := time.Now()
	bottest.WaitFor(t, "a moment", func() bool { return time.Since(start) > 20*time.Millisecond })
	var b bottest.Buffer
	b.Write([]byte("x"))
	if b.String() != "x" {
		t.Error("buffer")
	}
	b.Reset()
	if b.String() != "" {
		t.Error("reset")
	}
}
