package telegram_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// intruder is someone who is not the person whose chat a forged press
// names.
const intruder = int64(777000333)

// TestPressOnAnotherChatDoesNothing: a button press whose message is in
// another person's chat (as Telegram would never send, but a forger may)
// is answered and does nothing else, whether the message is still
// accessible or not: the person's conversation does not move, and the
// presser is sent nothing. The person's own presses still work, and a
// coach's Claim in the coaches' group still claims the case.
func TestPressOnAnotherChatDoesNothing(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.fake.Type(person, "/start")
	w.sent(t, person, w.text("onboarding.choose_language"))
	label := w.text("lang.name")
	bottest.WaitFor(t, "the language buttons", func() bool { return w.offered(label) })
	msgID, data := button(t, w.fake.Messages(person), label)
	before := len(w.fake.BotSaid(person))

	onMessage := telegramtest.CallbackUpdate(person, msgID, data)
	onMessage.CallbackQuery.From = models.User{ID: intruder, FirstName: "I"}
	inaccessible := telegramtest.CallbackUpdate(person, msgID, data)
	inaccessible.CallbackQuery.From = models.User{ID: intruder, FirstName: "I"}
	inaccessible.CallbackQuery.Message = models.MaybeInaccessibleMessage{
		Type:                models.MaybeInaccessibleMessageTypeInaccessibleMessage,
		InaccessibleMessage: &models.InaccessibleMessage{Chat: models.Chat{ID: person, Type: models.ChatTypePrivate}, MessageID: msgID},
	}
	for _, u := range []*models.Update{onMessage, inaccessible} {
		id := w.fake.Queue(u)[0]
		// Confirmed past it: the adapter is done with it (gatedClient).
		bottest.WaitFor(t, fmt.Sprintf("update %d handled", id), func() bool { return w.fake.Confirmed() > id })
		answered := false
		for _, c := range w.fake.CallsTo("answerCallbackQuery") {
			answered = answered || c.Params["callback_query_id"] == u.CallbackQuery.ID
		}
		if !answered {
			t.Errorf("forged press %d not answered", id)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.rt.Settle(sctx); err != nil {
		t.Fatal(err)
	}
	if got := w.fake.BotSaid(person); len(got) != before {
		t.Fatalf("a press by someone else moved the person's conversation: %q", got[before:])
	}
	if got := w.fake.BotSaid(intruder); len(got) != 0 {
		t.Errorf("the intruder was sent %q", got)
	}

	w.press(t, "lang.name")
	w.sent(t, person, w.text("onboarding.privacy"))
	w.press(t, "opt.agree")
	w.sent(t, person, w.text("menu.main"))
	w.fake.Type(person, "coach")
	claim(t, w)
}

// button finds the newest bot message offering label, and its data.
func button(t *testing.T, msgs []telegramtest.Message, label string) (int, string) {
	t.Helper()
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, b := range msgs[i].Buttons {
			if !msgs[i].FromPerson && b.Text == label {
				return msgs[i].ID, b.Data
			}
		}
	}
	t.Fatalf("no button %q", label)
	return 0, ""
}
