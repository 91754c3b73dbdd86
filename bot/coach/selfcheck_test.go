package coach_test

import (
	"fmt"
	"testing"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// TestSelfCheckCaseCard: in the self-check, a danger sign from the past
// with a coach wanted opens a normal case whose card names the indicator
// id; a second sign happening now raises it to urgent and adds its id.
// The card never carries what the person was asked or answered.
func TestSelfCheckCaseCard(t *testing.T) {
	fake := telegramtest.NewServer(t)
	newWorld(t, bottest.NewStore(t), fake, options{poll: true})
	onboard(t, fake)
	fake.Press(t, survivor, "Know your rights")
	expect(t, fake, survivor, "Choose a topic")
	fake.Press(t, survivor, "Check your situation")
	expect(t, fake, survivor, "Your answers are cleared")
	fake.Press(t, survivor, "Begin")
	for q := 1; q <= 8; q++ {
		expect(t, fake, survivor, fmt.Sprintf("Question %d of 11", q))
		fake.Press(t, survivor, "No")
	}
	expect(t, fake, survivor, "Question 9 of 11")
	fake.Press(t, survivor, "Yes")
	expect(t, fake, survivor, "Is this happening now?")
	fake.Press(t, survivor, "In the past")
	expect(t, fake, survivor, "Would you like a coach to write to you here?")
	if n := count(fake, group, "New case"); n != 0 {
		t.Fatalf("%d cases announced before the person said yes", n)
	}
	fake.Press(t, survivor, "Yes")
	expect(t, fake, group, "New case")
	expect(t, fake, group, ": normal, selfcheck (movement), language en")

	expect(t, fake, survivor, "Question 10 of 11")
	fake.Press(t, survivor, "Yes")
	waitFor(t, "the second \"now?\"", func() bool { return count(fake, survivor, "Is this happening now?") == 2 })
	fake.Press(t, survivor, "Yes, now")
	expect(t, fake, survivor, "If you are in danger now, call")
	expect(t, fake, group, "Now more urgent")
	expect(t, fake, group, ": urgent, selfcheck (movement, threats), language en")

	leaks(t, saidAll(fake, group), "locked", "watched", "threaten", "family", "Question", "happening")
}
