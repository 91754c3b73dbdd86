package telegram

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// notConfirmed fails the test if Telegram was already told to forget the
// update in (so a crash now would lose it).
func notConfirmed(t *testing.T, api *telegramtest.Server, in bot.Inbound) {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimPrefix(in.MessageID, "u"), 10, 64)
	if err != nil {
		t.Errorf("MessageID %q", in.MessageID)
		return
	}
	if c := api.Confirmed(); c > id {
		t.Errorf("update %d confirmed (offset %d) before Accept returned", id, c)
	}
}

func messageIDs(ins []bot.Inbound) []string {
	var ids []string
	for _, in := range ins {
		ids = append(ids, in.MessageID)
	}
	return ids
}

func uids(ids ...int64) []string {
	var out []string
	for _, id := range ids {
		out = append(out, "u"+strconv.FormatInt(id, 10))
	}
	return out
}

func TestPolling(t *testing.T) {
	f := newFixture(t, nil)
	f.private = append(f.private, "first", "second", "third", "claim")
	var mu sync.Mutex
	var groups []int64
	f.a.Group = func(_ context.Context, u *models.Update) error {
		mu.Lock()
		defer mu.Unlock()
		groups = append(groups, u.ID)
		return nil
	}
	rec := bottest.NewReceiver(func(_ int, in bot.Inbound) error {
		notConfirmed(t, f.api, in)
		return nil
	})

	edited := telegramtest.TextUpdate(chatID, "first, edited")
	edited.EditedMessage, edited.Message = edited.Message, nil
	ids := f.api.Queue(
		telegramtest.TextUpdate(chatID, "first"),
		telegramtest.CallbackUpdate(chatID, 5, "v1:2:yes"),
		telegramtest.PhotoUpdate(chatID),
		telegramtest.GroupTextUpdate(groupID, 42, "claim"),
		edited,
		telegramtest.TextUpdate(chatID, "second"),
	)
	f.run(t, rec)
	waitFor(t, "the first batch", func() bool { return len(rec.Accepted()) == 4 })

	// A second batch, queued while polling.
	more := f.api.Type(chatID, "third")
	waitFor(t, "the second batch", func() bool { return len(rec.Accepted()) == 5 })

	got := rec.Accepted()
	if want := uids(ids[0], ids[1], ids[2], ids[5], more); !slices.Equal(messageIDs(got), want) {
		t.Errorf("accepted %v, want %v in order", messageIDs(got), want)
	}
	if got[0].Text != "first" || got[1].Choice != "yes" || got[1].Prompt != 2 || !got[2].NotText || got[4].Text != "third" {
		t.Errorf("accepted %+v", got)
	}
	mu.Lock()
	if !slices.Equal(groups, []int64{ids[3]}) {
		t.Errorf("Group hook got %v, want [%d]", groups, ids[3])
	}
	mu.Unlock()
	if n := len(f.api.CallsTo("answerCallbackQuery")); n != 1 {
		t.Errorf("%d answerCallbackQuery calls, want 1", n)
	}

	calls := f.api.Calls()
	if calls[1].Method != "deleteWebhook" || len(calls[1].Params) != 0 {
		t.Errorf("second call %s %q, want deleteWebhook without dropping updates", calls[1].Method, calls[1].Params)
	}
	gu := f.api.CallsTo("getUpdates")[0].Params
	if gu["timeout"] != "49" || gu["allowed_updates"] != `["message","callback_query","my_chat_member"]` {
		t.Errorf("getUpdates %q", gu)
	}
}

func TestPollingRetriesAccept(t *testing.T) {
	f := newFixture(t, nil)
	rec := bottest.NewReceiver(func(n int, in bot.Inbound) error {
		notConfirmed(t, f.api, in)
		if n == 2 || n == 3 {
			return errors.New("redis unavailable")
		}
		return nil
	})
	ids := f.api.Queue(telegramtest.TextUpdate(chatID, "a"), telegramtest.TextUpdate(chatID, "b"), telegramtest.TextUpdate(chatID, "c"))
	f.run(t, rec)
	waitFor(t, "all updates", func() bool { return len(rec.Accepted()) == 3 })
	if got, want := messageIDs(rec.Accepted()), uids(ids...); !slices.Equal(got, want) {
		t.Errorf("accepted %v, want %v", got, want)
	}
	if !strings.Contains(f.logs.String(), "retrying") {
		t.Error("failed Accept not logged")
	}
}

// A process that dies while handling an update loses nothing: the next
// process gets every update not yet accepted (and perhaps some again,
// which the runtime drops by MessageID).
func TestPollingCrashLosesNothing(t *testing.T) {
	f := newFixture(t, nil)
	ids := f.api.Queue(telegramtest.TextUpdate(chatID, "a"), telegramtest.TextUpdate(chatID, "b"), telegramtest.TextUpdate(chatID, "c"))

	crashed := make(chan struct{})
	first := bottest.NewReceiver(func(n int, in bot.Inbound) error {
		if n == 3 {
			// Dying while accepting the last update of the batch: the
			// library alone would already have confirmed it by now.
			close(crashed)
			return errors.New("process dying")
		}
		return nil
	})
	stop := f.run(t, first)
	<-crashed
	stop()

	second, err := New(f.a.cfg, f.a.log)
	if err != nil {
		t.Fatal(err)
	}
	rec := bottest.NewReceiver(func(_ int, in bot.Inbound) error {
		notConfirmed(t, f.api, in)
		return nil
	})
	f2 := &fixture{a: second, api: f.api, logs: f.logs}
	f2.run(t, rec)
	waitFor(t, "the rest after restart", func() bool {
		got := rec.Accepted()
		return len(got) > 0 && got[len(got)-1].MessageID == uids(ids[2])[0]
	})
	seen := map[string]bool{}
	for _, in := range append(first.Accepted(), rec.Accepted()...) {
		seen[in.MessageID] = true
	}
	for _, id := range uids(ids...) {
		if !seen[id] {
			t.Errorf("update %s lost", id)
		}
	}
}

func TestPollingDropsUpdateThatPanics(t *testing.T) {
	f := newFixture(t, nil)
	rec := bottest.NewReceiver(func(n int, in bot.Inbound) error {
		if n == 1 {
			panic("bug")
		}
		return nil
	})
	ids := f.api.Queue(telegramtest.TextUpdate(chatID, "a"), telegramtest.TextUpdate(chatID, "b"))
	f.run(t, rec)
	waitFor(t, "the update after the panic", func() bool { return len(rec.Accepted()) == 1 })
	if got := messageIDs(rec.Accepted()); !slices.Equal(got, uids(ids[1])) {
		t.Errorf("accepted %v", got)
	}
	if !strings.Contains(f.logs.String(), "panicked") {
		t.Error("panic not logged")
	}
}

// A short journey through the fake, as the runtime's tests would drive
// it: the bot offers buttons, the person presses one, then clears.
func TestJourneyWithFake(t *testing.T) {
	f := newFixture(t, nil)
	f.private = append(f.private, "Yes please", "Are you safe?")
	rec := bottest.NewReceiver(nil)
	f.run(t, rec)

	hi := f.api.Type(chatID, "hi")
	waitFor(t, "hi", func() bool { return len(rec.Accepted()) == 1 })
	_, err := f.a.Send(context.Background(), chatAddr, bot.Outbound{
		Text: "Are you safe?", Prompt: 3,
		Options: []bot.OutOption{{ID: "yes", Label: "Yes please"}, {ID: "no", Label: "No"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	press := f.api.Press(t, chatID, "Yes please")
	waitFor(t, "the press", func() bool { return len(rec.Accepted()) == 2 })
	got := rec.Accepted()
	if got[0].MessageID != uids(hi)[0] || got[1].MessageID != uids(press)[0] || got[1].Choice != "yes" || got[1].Prompt != 3 {
		t.Errorf("accepted %+v", got)
	}

	var recent []int64
	for _, m := range f.api.Messages(chatID) {
		recent = append(recent, int64(m.ID))
	}
	if got[0].PlatformMsg != recent[0] {
		t.Errorf("PlatformMsg %d, want the chat's first message %d", got[0].PlatformMsg, recent[0])
	}
	if err := f.a.Clear(context.Background(), chatAddr, recent); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.api.Messages(chatID) {
		if !m.Deleted {
			t.Errorf("message %d left after Clear", m.ID)
		}
	}
}

func TestJourneyWebhookWithFake(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.WebhookURL = "https://lifeline.example.org/telegram/webhook"
		c.WebhookSecret = testSecret
	})
	rec := bottest.NewReceiver(nil)
	f.run(t, rec)
	waitFor(t, "setWebhook", func() bool { return len(f.api.CallsTo("setWebhook")) == 1 })
	mux := http.NewServeMux()
	f.a.Register(mux)
	for range 2 {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, f.api.WebhookRequest(telegramtest.TextUpdate(chatID, "hi"), testSecret))
		if w.Code != http.StatusOK {
			t.Errorf("status %d", w.Code)
		}
	}
	got := rec.Accepted()
	if len(got) != 2 || got[0].Text != "hi" || got[0].MessageID == got[1].MessageID {
		t.Errorf("accepted %+v", got)
	}
}
