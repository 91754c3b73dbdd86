package coach_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// TestCrisisInAClaimedCase: words of danger during a relay reach the coach
// as they are, alert the coach, open no second case, and are raised to the
// group and the supervisor only when the coach has not answered within
// the urgent target.
func TestCrisisInAClaimedCase(t *testing.T) {
	fake := telegramtest.NewServer(t)
	clk := bottest.NewClock(time.Now().UTC())
	w := newWorld(t, bottest.NewStore(t), fake, options{poll: true, clock: clk})
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

// TestFailedAnnouncementIsRetried: when telling the coaches' group of a new
// case fails, the escalation is handled again and the case announced then
// — once, and no second case opens.
func TestFailedAnnouncementIsRetried(t *testing.T) {
	fake := telegramtest.NewServer(t)
	w := newWorld(t, bottest.NewStore(t), fake, options{poll: true})
	twilio := w.twilio
	ctx := context.Background()
	const phone = "+447700900777"
	n := 0
	text := func(body string) {
		n++
		if err := w.rt.Accept(ctx, bot.Inbound{Channel: "sms", Address: phone, MessageID: fmt.Sprint("SM", n), Text: body}); err != nil {
			t.Fatal(err)
		}
	}
	expectSMS := func(want string) {
		waitFor(t, "SMS "+want, func() bool { return strings.Contains(strings.Join(twilio.Bodies(), "\n"), want) })
	}
	text("hi")
	expectSMS("English")
	text("1")
	expectSMS("Privacy")
	text("1")
	expectSMS("What would you like to do?")
	// The survivor is on SMS, so every sendMessage now is the group's.
	var fail []telegramtest.Response
	for range 4 {
		fail = append(fail, telegramtest.Response{ErrorCode: 500, Description: "Internal Server Error"})
	}
	fake.Respond("sendMessage", fail...)
	text("coach")
	expect(t, fake, group, "New case")
	alias := caseAlias(t, fake)
	if c := count(fake, group, "New case"); c != 1 {
		t.Errorf("announced %d times", c)
	}
	p, err := w.st.Profile(ctx, w.rt.PersonID("sms", phone))
	if err != nil || p["case"] != alias {
		t.Fatalf("the person's case is %q, announced %q (%v)", p["case"], alias, err)
	}
}
