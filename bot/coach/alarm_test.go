package coach_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestCrisisInAClaimedCase: words of danger during a relay reach the coach
// as they are, alert the coach, open no second case, and are raised to the
// group and the supervisor only when the coach has not answered within
// the urgent target.
func TestCrisisInAClaimedCase(t *testing.T) {
	fake := telegramtest.NewServer(t)
	clk := bottest.NewClock(time.Now().UTC())
	w := newWorld(t, storetest.Shared(t), storetest.Namespace(), fake, options{poll: true, clock: clk})
	ctx := context.Background()
	onboard(t, fake)
	alias := claimedBy(t, fake, ana)

	fake.Type(survivor, "I want to kill myself")
	expect(t, fake, ana, alias+": I want to kill myself")
	expect(t, fake, ana, "words of danger")
	if n := count(fake, survivor, "If you are in danger now"); n != 0 {
		t.Errorf("the bot broke into the relay with its crisis reply")
	}
	if got := caseAlias(t, fake); got != alias {
		t.Fatalf("a second case %s opened beside %s", got, alias)
	}

	// Unanswered past the urgent target: the group and the supervisor hear.
	clk.Add(6 * time.Minute)
	if _, err := w.m.FireTimers(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	expect(t, fake, group, "no answer from the coach")
	expect(t, fake, supervisor, "no answer from the coach")

	// Answered in time: nobody else is disturbed.
	fake.Type(survivor, "he is back and they took my passport again")
	expect(t, fake, ana, alias+": he is back")
	waitFor(t, "the second alert", func() bool { return count(fake, ana, "words of danger") == 2 })
	fake.Type(ana, "I am here. Are you somewhere safe?")
	expect(t, fake, survivor, "I am here. Are you somewhere safe?")
	clk.Add(6 * time.Minute) // the answer was recorded before it reached the person
	if _, err := w.m.FireTimers(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // what FireTimers queued would be out by now
	if n := count(fake, group, "no answer from the coach"); n != 1 {
		t.Errorf("raised %d times; the coach answered the second time", n)
	}
}
