package bottest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
)

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
