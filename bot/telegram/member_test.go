package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// TestMember reads blocking and unblocking from my_chat_member updates in
// a person's own private chat, and nothing else.
func TestMember(t *testing.T) {
	upd := func(chat, from int64, typ, status string) string {
		bot := `{"id":424242,"is_bot":true,"first_name":"B"}`
		return fmt.Sprintf(`{"update_id":9,"my_chat_member":{"chat":{"id":%d,"type":%q},"from":{"id":%d,"is_bot":false,"first_name":"A"},"date":1,`+
			`"old_chat_member":{"status":"member","user":%s},"new_chat_member":{"status":%q,"user":%s,"until_date":0}}}`, chat, typ, from, bot, status, bot)
	}
	tests := []struct {
		name      string
		update    string
		reachable bool
		ok        bool
	}{
		{"blocked", upd(chatID, chatID, "private", "kicked"), false, true},
		{"unblocked", upd(chatID, chatID, "private", "member"), true, true},
		{"left is not a block", upd(chatID, chatID, "private", "left"), false, false},
		{"another person's chat", upd(otherID, chatID, "private", "kicked"), false, false},
		{"removed from a group", upd(groupID, chatID, "supergroup", "kicked"), false, false},
		{"a message", `{"update_id":9,"message":` + msgJSON("private", chatID, `,"text":"hi"`) + `}`, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, reachable, ok := Member(update(t, tc.update))
			wantAddr := ""
			if tc.ok {
				wantAddr = chatAddr
			}
			if addr != wantAddr || reachable != tc.reachable || ok != tc.ok {
				t.Errorf("Member = %q, %v, %v; want %q, %v, %v", addr, reachable, ok, wantAddr, tc.reachable, tc.ok)
			}
		})
	}
	if _, _, ok := Member(nil); ok {
		t.Error("Member(nil) reported true")
	}
}

// TestWebhookBlockedRecordedOnce: blocking and unblocking are recorded in
// the person's profile (real Redis) before the webhook answers 200; a
// failure answers 503 so Telegram sends it again; a repeated or older
// update changes nothing; a stranger's leaves nothing behind.
func TestWebhookBlockedRecordedOnce(t *testing.T) {
	st := bottest.NewStore(t)
	ctx := context.Background()
	person := func(addr string) string { return "tg-" + addr }
	if err := st.SetProfile(ctx, person(chatAddr), map[string]string{"ch": Name, "lang": "en", "stopped": "1"}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) {
		c.WebhookURL = "https://lifeline.example.org/telegram/webhook"
		c.WebhookSecret = testSecret
	})
	f.private = append(f.private, otherAddr)
	down := true
	f.a.OnMember = func(ctx context.Context, addr string, update int64, reachable bool) error {
		if down {
			return errors.New("redis down")
		}
		_, err := st.MarkReachable(ctx, person(addr), update, reachable)
		return err
	}
	f.run(t, bottest.NewReceiver(nil))
	waitFor(t, "setWebhook", func() bool { return len(f.api.CallsTo("setWebhook")) == 1 })
	mux := http.NewServeMux()
	f.a.Register(mux)
	deliver := func(id int64, chat int64, status models.ChatMemberType) int {
		u := telegramtest.BlockUpdate(chat, status)
		u.ID = id
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, f.api.WebhookRequest(u, testSecret))
		return w.Code
	}
	flag := func() string {
		p, err := st.Profile(ctx, person(chatAddr))
		if err != nil {
			t.Fatal(err)
		}
		if p["stopped"] != "1" || p["lang"] != "en" {
			t.Errorf("other fields changed: %v", p)
		}
		return p[bot.FieldUnreachable]
	}

	steps := []struct {
		what   string
		id     int64
		chat   int64
		status models.ChatMemberType
		down   bool
		code   int
		flag   string
	}{
		{"blocked, Redis down", 10, chatID, telegramtest.StatusBlocked, true, http.StatusServiceUnavailable, ""},
		{"blocked, sent again", 10, chatID, telegramtest.StatusBlocked, false, http.StatusOK, "1"},
		{"blocked, repeated", 10, chatID, telegramtest.StatusBlocked, false, http.StatusOK, "1"},
		{"unblocked", 12, chatID, telegramtest.StatusUnblocked, false, http.StatusOK, ""},
		{"the block again, late", 10, chatID, telegramtest.StatusBlocked, false, http.StatusOK, ""},
		{"an earlier block, late", 11, chatID, telegramtest.StatusBlocked, false, http.StatusOK, ""},
		{"blocked once more", 13, chatID, telegramtest.StatusBlocked, false, http.StatusOK, "1"},
		{"a stranger blocks", 14, otherID, telegramtest.StatusBlocked, false, http.StatusOK, "1"},
	}
	for _, s := range steps {
		down = s.down
		if code := deliver(s.id, s.chat, s.status); code != s.code {
			t.Errorf("%s: status %d, want %d", s.what, code, s.code)
		}
		if got := flag(); got != s.flag {
			t.Errorf("%s: unreachable %q, want %q", s.what, got, s.flag)
		}
	}
	if p, err := st.Profile(ctx, person(otherAddr)); err != nil || len(p) != 0 {
		t.Errorf("a stranger's block left a profile %v (%v)", p, err)
	}
	if n := len(f.api.CallsTo("answerCallbackQuery")); n != 0 {
		t.Errorf("%d answerCallbackQuery calls for member updates", n)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"event":"telegram_blocked","update_id":10`) || !strings.Contains(logs, `"event":"telegram_unblocked","update_id":12`) {
		t.Errorf("blocking not logged by update id:\n%s", logs)
	}
}

// TestPollingBlockedNotLost: by long polling, an update the store cannot
// take yet is retried, and Telegram is not told to forget it until it is
// recorded.
func TestPollingBlockedNotLost(t *testing.T) {
	f := newFixture(t, nil)
	var mu sync.Mutex
	var got []string
	fails := 2
	f.a.OnMember = func(_ context.Context, addr string, update int64, reachable bool) error {
		mu.Lock()
		defer mu.Unlock()
		if c := f.api.Confirmed(); c > update {
			t.Errorf("update %d confirmed (offset %d) before it was recorded", update, c)
		}
		if fails > 0 {
			fails--
			return errors.New("redis unavailable")
		}
		got = append(got, addr+" "+strconv.FormatBool(reachable))
		return nil
	}
	f.api.Queue(telegramtest.BlockUpdate(chatID, telegramtest.StatusBlocked), telegramtest.BlockUpdate(chatID, telegramtest.StatusUnblocked))
	f.run(t, bottest.NewReceiver(nil))
	waitFor(t, "both updates recorded", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	defer mu.Unlock()
	if want := chatAddr + " false," + chatAddr + " true"; strings.Join(got, ",") != want {
		t.Errorf("recorded %q, want %q", strings.Join(got, ","), want)
	}
}
