package telegram_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/bot/telegram"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

const (
	person      = int64(777000222)
	coaches     = int64(-1002)
	coachID     = int64(21)
	previewsOff = `{"is_disabled":true}`
)

// world is Lifeline as cmd/lifeline wires it for Telegram: the runtime,
// the Telegram adapter polling a fake Bot API, the coach module and the
// broadcast service, on the shared test Redis.
type world struct {
	fake *telegramtest.Server
	rt   *runner.Runtime
	bc   *broadcast.Service
	// seen counts, by chat, the messages sent matched so far.
	seen map[int64]int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	fake := telegramtest.NewServer(t)
	tg, err := telegram.New(telegram.Config{Token: "1:x", APIURL: fake.URL, GlobalRate: 1000, PerChatRate: 1000, GroupPerMinute: 60000, PollTimeout: time.Second}, bottest.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{fake: fake, seen: map[int64]int{}}
	bottest.Start(t, bottest.WithChannels(tg), bottest.Workers(2), bottest.Before(func(h *bottest.Harness) {
		w.rt = h.RT
		m := coach.New(coach.Config{Runtime: h.RT, Telegram: tg, Group: coaches, Coaches: []int64{coachID}, Log: bottest.Quiet()})
		tg.Group = m.Group
		h.RT.OnEffect(m.Effect)
		w.bc = broadcast.New(broadcast.Config{Runtime: h.RT, Poll: 20 * time.Millisecond, Log: bottest.Quiet()})
		h.Go(func(ctx context.Context) { _ = m.Run(ctx) })
		h.Go(func(ctx context.Context) { _ = w.bc.Run(ctx) })
		h.Go(func(ctx context.Context) { _ = tg.Run(ctx, m.Receiver(h.RT)) })
	}))
	return w
}

// text is message id rendered in English with the resource pack's data.
func (w *world) text(id string) string { return w.rt.Render("en", id, nil) }

// sent waits for the bot's next sendMessage to chat, after the one the
// last sent to chat returned, whose text holds want, and returns it.
func (w *world) sent(t *testing.T, chat int64, want string) telegramtest.Call {
	t.Helper()
	var found telegramtest.Call
	bottest.WaitFor(t, fmt.Sprintf("the bot to send %q to chat %d", want, chat), func() bool {
		n := 0
		for _, c := range w.fake.CallsTo("sendMessage") {
			if c.Params["chat_id"] != strconv.FormatInt(chat, 10) {
				continue
			}
			n++
			if n > w.seen[chat] && strings.Contains(c.Params["text"], want) {
				w.seen[chat], found = n, c
				return true
			}
		}
		return false
	})
	return found
}

// press waits until the bot's newest message to the person offers the
// button labelled with message id's English text, and presses it.
func (w *world) press(t *testing.T, id string) {
	t.Helper()
	label := w.text(id)
	bottest.WaitFor(t, fmt.Sprintf("the bot to offer %q", label), func() bool { return w.offered(label) })
	w.fake.Press(t, person, label)
}

// offered reports whether the bot's newest message to the person offers
// the button label.
func (w *world) offered(label string) bool { return w.fake.Offers(person, label) }

// flags checks a sendMessage call's disable_notification and
// protect_content. The library leaves a false flag out.
func flags(t *testing.T, what string, c telegramtest.Call, silent, protect bool) {
	t.Helper()
	if got := c.Params["disable_notification"] == "true"; got != silent {
		t.Errorf("%s: disable_notification %q, want %v", what, c.Params["disable_notification"], silent)
	}
	if got := c.Params["protect_content"] == "true"; got != protect {
		t.Errorf("%s: protect_content %q, want %v", what, c.Params["protect_content"], protect)
	}
	for _, p := range []string{"disable_notification", "protect_content"} {
		if v, ok := c.Params[p]; ok && v != "true" {
			t.Errorf("%s: %s %q", what, p, v)
		}
	}
}

// TestDiscreetDelivery follows one person through what Lifeline sends on
// Telegram: replies ring as usual, a broadcast and a check-in arrive
// silently until the person turns sound on in Settings, and then ring;
// lessons and a coach's words cannot be forwarded or saved; no message
// has a link preview.
func TestDiscreetDelivery(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id := w.rt.PersonID("telegram", strconv.FormatInt(person, 10))

	w.fake.Type(person, "/start")
	w.sent(t, person, w.text("onboarding.choose_language"))
	w.press(t, "lang.name")
	w.sent(t, person, w.text("onboarding.privacy"))
	w.press(t, "opt.agree")
	flags(t, "a reply", w.sent(t, person, w.text("menu.main")), false, false)

	// A lesson: protected, ringing (the person asked for it).
	w.press(t, "menu.rights")
	w.sent(t, person, w.text("rights.choose"))
	w.press(t, "lesson.documents.title")
	flags(t, "a lesson", w.sent(t, person, w.text("lesson.documents.1")), false, true)
	w.fake.Type(person, "menu")
	w.sent(t, person, w.text("menu.main"))

	// Lifeline starts a broadcast and a scheduled check-in (as bot/checkin
	// triggers it): silent by default.
	started := func(news, checkin, when string, silent bool) {
		t.Helper()
		if _, err := w.bc.Create(ctx, broadcast.Spec{Text: map[string]string{"en": news}}); err != nil {
			t.Fatal(err)
		}
		flags(t, "a broadcast"+when, w.sent(t, person, news), silent, false)
		if err := w.rt.Trigger(ctx, id, "checkin", checkin); err != nil {
			t.Fatal(err)
		}
		flags(t, "a check-in"+when, w.sent(t, person, w.text("checkin.mood")), silent, false)
	}
	started("News from the programme, first", "ci-1", "", true)
	w.press(t, "checkin.mood_4")
	flags(t, "the answer to a check-in", w.sent(t, person, w.text("checkin.work")), false, false)

	// Sound on, in Settings.
	w.fake.Type(person, "menu")
	w.sent(t, person, w.text("menu.main"))
	w.press(t, "menu.settings")
	w.press(t, "settings.more")
	w.press(t, "settings.sound")
	w.sent(t, person, w.text("discreet.offer"))
	w.press(t, "discreet.opt_sound")
	w.sent(t, person, w.text("discreet.sound"))

	started("News from the programme, second", "ci-2", " after sound on", false)

	// A coach's words, relayed: protected.
	w.fake.Type(person, "coach")
	claim(t, w)
	w.fake.Type(coachID, "I am here. Are you safe now?")
	flags(t, "a coach's words", w.sent(t, person, "I am here. Are you safe now?"), false, true)

	calls := w.fake.CallsTo("sendMessage")
	for _, c := range calls {
		if c.Params["link_preview_options"] != previewsOff {
			t.Errorf("sendMessage %q: link_preview_options %q, want %s", c.Params["text"], c.Params["link_preview_options"], previewsOff)
		}
	}
	if len(calls) < 20 {
		t.Errorf("only %d messages sent", len(calls))
	}
}

// claim waits for the new case in the coaches' group and presses its
// Claim button as the coach.
func claim(t *testing.T, w *world) {
	t.Helper()
	w.sent(t, coaches, "New case")
	// The Claim button may come a moment after the text (a long card is
	// sent in parts, the button on the last): wait for it.
	var msg telegramtest.Message
	var data string
	bottest.WaitFor(t, "a Claim button in the coaches' group", func() bool {
		for _, m := range w.fake.Messages(coaches) {
			for _, b := range m.Buttons {
				if strings.Contains(b.Data, "claim:") {
					msg, data = m, b.Data
					return true
				}
			}
		}
		return false
	})
	u := telegramtest.CallbackUpdate(coaches, msg.ID, data)
	u.CallbackQuery.From = models.User{ID: coachID, FirstName: "C"}
	u.CallbackQuery.Message.Message.Chat.Type = models.ChatTypeSupergroup
	w.fake.Queue(u)
	w.sent(t, coachID, data[strings.Index(data, "claim:")+len("claim:"):])
}
