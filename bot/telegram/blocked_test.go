package telegram_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/telegram"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/flows"
)

// blockWorld is Lifeline as cmd/lifeline wires it for Telegram with
// check-ins: the runtime, the adapter polling a fake Bot API and recording
// blocks in the profile (OnMember, as main.go), the broadcast service and
// the check-in scheduler, on the shared test Redis. The test fires
// check-ins itself (FireDue).
type blockWorld struct {
	h    *bottest.Harness
	fake *telegramtest.Server
	bc   *broadcast.Service
	ci   *checkin.Scheduler
	seen map[int64]int
}

func newBlockWorld(t *testing.T) *blockWorld {
	t.Helper()
	fake := telegramtest.NewServer(t)
	tg, err := telegram.New(telegram.Config{Token: "1:x", APIURL: fake.URL, GlobalRate: 1000, PerChatRate: 1000, PollTimeout: time.Second}, bottest.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	w := &blockWorld{fake: fake, seen: map[int64]int{}}
	w.h = bottest.Start(t, bottest.WithChannels(tg), bottest.Workers(2), bottest.Before(func(h *bottest.Harness) {
		w.ci = checkin.New(checkin.Config{Runtime: h.RT, Log: bottest.Quiet()})
		h.RT.OnEffect(w.ci.Effect, flows.EffectSubscribe, flows.EffectUnsubscribe, flows.EffectStop, flows.EffectStart, flows.EffectDelete, flows.EffectRecord)
		tg.OnMember = func(ctx context.Context, address string, update int64, reachable bool) error {
			_, err := h.Store.MarkReachable(ctx, h.RT.PersonID(tg.Name(), address), update, reachable)
			return err
		}
		w.bc = broadcast.New(broadcast.Config{Runtime: h.RT, Poll: 20 * time.Millisecond, Log: bottest.Quiet()})
		h.Go(func(ctx context.Context) { _ = w.bc.Run(ctx) })
		h.Go(func(ctx context.Context) { _ = tg.Run(ctx, h.RT) })
	}))
	return w
}

func (w *blockWorld) text(id string) string { return w.h.RT.Render("en", id, nil) }

// sent waits for the bot's next message to chat holding want.
func (w *blockWorld) sent(t *testing.T, chat int64, want string) {
	t.Helper()
	bottest.WaitFor(t, fmt.Sprintf("the bot to send %q to chat %d", want, chat), func() bool {
		said := w.fake.BotSaid(chat)
		for i := w.seen[chat]; i < len(said); i++ {
			if strings.Contains(said[i], want) {
				w.seen[chat] = i + 1
				return true
			}
		}
		return false
	})
}

// press waits until the bot's newest message to chat offers the button
// labelled with message id's English text, and presses it.
func (w *blockWorld) press(t *testing.T, chat int64, id string) {
	t.Helper()
	label := w.text(id)
	bottest.WaitFor(t, fmt.Sprintf("the bot to offer %q to chat %d", label, chat), func() bool {
		msgs := w.fake.Messages(chat)
		for i := len(msgs) - 1; i >= 0; i-- {
			if !msgs[i].FromPerson && !msgs[i].Deleted {
				return slices.ContainsFunc(msgs[i].Buttons, func(b telegramtest.Button) bool { return b.Text == label })
			}
		}
		return false
	})
	w.fake.Press(t, chat, label)
}

func (w *blockWorld) profile(t *testing.T, chat int64) map[string]string {
	t.Helper()
	p, err := w.h.Store.Profile(context.Background(), w.h.RT.PersonID(telegram.Name, strconv.FormatInt(chat, 10)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkinsOn takes chat through onboarding and agreeing to check-ins,
// and waits for the first to be scheduled.
func (w *blockWorld) checkinsOn(t *testing.T, chat int64) {
	t.Helper()
	w.fake.Type(chat, "/start")
	w.sent(t, chat, w.text("onboarding.choose_language"))
	for _, step := range []struct{ press, then string }{
		{"lang.name", "onboarding.privacy"}, {"opt.agree", "menu.main"},
		{"menu.checkin", "checkins.offer"}, {"opt.yes", "checkin.ask_gender"},
		{"checkin.not_say", "checkin.ask_age"}, {"checkin.not_say", "checkin.ask_tz"},
		{"checkin.tz_default", "checkins.on"},
	} {
		w.press(t, chat, step.press)
		w.sent(t, chat, w.text(step.then))
	}
	bottest.WaitFor(t, "check-ins scheduled", func() bool {
		p := w.profile(t, chat)
		return p["sub.checkins"] == "1" && p["ci.due"] != ""
	})
}

// checkinsOff has chat stop the check-ins from the menu.
func (w *blockWorld) checkinsOff(t *testing.T, chat int64) {
	t.Helper()
	w.press(t, chat, "menu.checkin")
	w.sent(t, chat, w.text("checkin.manage"))
	w.press(t, chat, "checkin.opt_stop")
	w.sent(t, chat, w.text("checkins.off"))
	bottest.WaitFor(t, "check-ins stopped", func() bool {
		p := w.profile(t, chat)
		return p["sub.checkins"] == "" && p["ci.due"] == ""
	})
}

// block has chat block (or unblock) the bot and waits for the profile to
// say so.
func (w *blockWorld) block(t *testing.T, chat int64, status models.ChatMemberType) {
	t.Helper()
	w.fake.Queue(telegramtest.BlockUpdate(chat, status))
	want := "1"
	if status == telegramtest.StatusUnblocked {
		want = ""
	}
	bottest.WaitFor(t, fmt.Sprintf("chat %d %s", chat, status), func() bool { return w.profile(t, chat)[bot.FieldUnreachable] == want })
}

// broadcast sends text to everyone and waits until it is done and every
// message is out.
func (w *blockWorld) broadcast(t *testing.T, text string) broadcast.Status {
	t.Helper()
	ctx := context.Background()
	id, err := w.bc.Create(ctx, broadcast.Spec{Text: map[string]string{"en": text}})
	if err != nil {
		t.Fatal(err)
	}
	var st broadcast.Status
	bottest.WaitFor(t, "the broadcast to end", func() bool {
		st, err = w.bc.Get(ctx, id)
		return err == nil && st.Status == broadcast.StatusDone
	})
	w.h.Settle()
	return st
}

// fireCheckin fires chat's next check-in, as the scheduler would when it
// is due, and waits until whatever it sent is out. It returns the time
// it was due.
func (w *blockWorld) fireCheckin(t *testing.T, chat int64) time.Time {
	t.Helper()
	ms, err := strconv.ParseInt(w.profile(t, chat)["ci.due"], 10, 64)
	if err != nil {
		t.Fatalf("no check-in due: %v", err)
	}
	due := time.UnixMilli(ms)
	if _, err := w.ci.FireDue(context.Background(), due.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	w.h.Settle()
	return due
}

func count(said []string, want string) int {
	n := 0
	for _, s := range said {
		if strings.Contains(s, want) {
			n++
		}
	}
	return n
}

// broadcastAfter sets every chat's membership to status, then broadcasts
// text, which each chat must get each times (0 or 1): the others are
// skipped.
func (w *blockWorld) broadcastAfter(t *testing.T, status models.ChatMemberType, text string, each int, chats ...int64) {
	t.Helper()
	for _, chat := range chats {
		w.block(t, chat, status)
	}
	if st, want := w.broadcast(t, text), int64(each*len(chats)); st.Sent != want || st.Skipped != int64(len(chats))-want {
		t.Errorf("broadcast %q: sent %d, skipped %d; want %d, %d", text, st.Sent, st.Skipped, want, int64(len(chats))-want)
	}
	for _, chat := range chats {
		if n := count(w.fake.BotSaid(chat), text); n != each {
			t.Errorf("chat %d got the broadcast %q %d times, want %d", chat, text, n, each)
		}
	}
}

// TestBlockedAndUnblocked: a person who blocks the bot is skipped by
// broadcasts and check-ins (and counted as such); once they unblock it
// they get both again, and someone who had turned check-ins off before
// blocking still has them off.
func TestBlockedAndUnblocked(t *testing.T) {
	const on, off = int64(777000401), int64(777000402)
	w := newBlockWorld(t)
	w.checkinsOn(t, on)
	w.checkinsOn(t, off)
	w.checkinsOff(t, off)
	mood := w.text("checkin.mood")

	w.broadcastAfter(t, telegramtest.StatusBlocked, "News while blocked", 0, on, off)
	first := w.fireCheckin(t, on)
	if n := count(w.fake.BotSaid(on), mood); n != 0 {
		t.Errorf("a check-in was sent to a person who blocked the bot")
	}
	p := w.profile(t, on)
	if next, _ := strconv.ParseInt(p["ci.due"], 10, 64); !time.UnixMilli(next).After(first) || p["ci.pending"] != "" {
		t.Errorf("skipped check-in: next due %s, pending %q; want the schedule moved on, nothing pending", p["ci.due"], p["ci.pending"])
	}
	if n := unreachableFigure(t, w); n != 1 {
		t.Errorf("check-ins not sent to unreachable people counted %d, want 1", n)
	}

	w.broadcastAfter(t, telegramtest.StatusUnblocked, "News after unblocking", 1, on, off)
	w.fireCheckin(t, on)
	if n := count(w.fake.BotSaid(on), mood); n != 1 {
		t.Errorf("check-in after unblocking sent %d times, want 1", n)
	}
	p = w.profile(t, off)
	if p["sub.checkins"] != "" || p["ci.due"] != "" || p["stopped"] != "" {
		t.Errorf("unblocking changed what the person chose: sub.checkins %q, ci.due %q, stopped %q", p["sub.checkins"], p["ci.due"], p["stopped"])
	}
	if _, err := w.ci.FireDue(context.Background(), time.Now().AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	w.h.Settle()
	if n := count(w.fake.BotSaid(off), mood); n != 0 {
		t.Errorf("a person who had turned check-ins off got %d after unblocking", n)
	}
}

// unreachableFigure is this week's count of check-ins not sent because
// the person could not be reached, over every group.
func unreachableFigure(t *testing.T, w *blockWorld) int {
	t.Helper()
	y, wk := time.Now().UTC().ISOWeek()
	res, err := w.h.Store.CheckinFigures(context.Background(), []string{fmt.Sprintf("%04d-W%02d", y, wk)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for field, v := range res[0] {
		if strings.HasPrefix(field, "unreach|") {
			c, _ := strconv.Atoi(v)
			n += c
		}
	}
	return n
}
