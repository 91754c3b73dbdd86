package telegram

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// otherID is another person's chat (and user id), never the presser's.
const (
	otherID   = 555000999
	otherAddr = "555000999"
	// presserName is the presser's first name, which no log may show.
	presserName = "Zeynab"
)

// pressJSON is a press by user from of a button with data on the message
// message (`,"message":{...}` or "").
func pressJSON(id int, from int64, data, message string) string {
	return fmt.Sprintf(`{"update_id":%d,"callback_query":{"id":"cb%d","from":{"id":%d,"is_bot":false,"first_name":%q},"chat_instance":"ci","data":%q%s}}`,
		id, id, from, presserName, data, message)
}

// onMessage is a bot message in chat, as a callback carries it; date 0
// makes it an InaccessibleMessage (Bot API 9.4).
func onMessage(chat int64, typ string, date int) string {
	return fmt.Sprintf(`,"message":{"message_id":77,"date":%d,"chat":{"id":%d,"type":%q},"text":"Choose"}`, date, chat, typ)
}

// TestCallbackActsOnPresser: a button press acts only for the person who
// pressed it, in their own private chat; a press whose message names
// another person's chat, or no chat, is not handed over.
func TestCallbackActsOnPresser(t *testing.T) {
	own := bot.Inbound{Channel: Name, Address: chatAddr, MessageID: "u5", Choice: "yes", Prompt: 3}
	tests := []struct {
		name   string
		update string
		ok     bool
	}{
		{"own chat", pressJSON(5, chatID, "v1:3:yes", onMessage(chatID, "private", date)), true},
		{"own chat, message no longer accessible", pressJSON(5, chatID, "v1:3:yes", onMessage(chatID, "private", 0)), true},
		{"another person's chat", pressJSON(5, chatID, "v1:3:yes", onMessage(otherID, "private", date)), false},
		{"another person's chat, inaccessible message", pressJSON(5, chatID, "v1:3:yes", onMessage(otherID, "private", 0)), false},
		{"the presser's id as a group", pressJSON(5, chatID, "v1:3:yes", onMessage(chatID, "group", date)), false},
		{"no message (inline)", pressJSON(5, chatID, "v1:3:yes", ""), false},
		{"group", pressJSON(5, chatID, "v1:3:yes", onMessage(groupID, "supergroup", date)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Normalize(update(t, tc.update))
			want := bot.Inbound{}
			if tc.ok {
				want = own
			}
			if ok != tc.ok || got != want {
				t.Errorf("Normalize = %+v, %v; want %+v, %v", got, ok, want, tc.ok)
			}
		})
	}
}

// TestWebhookCallbackForAnotherChat: a press on a message in someone
// else's chat is answered (the button stops spinning) and nothing else:
// nothing reaches the runtime or the Group hook, and the log holds the
// update id but no chat id, name or text. A press in the coaches' group
// still reaches the Group hook, which checks the presser is a coach.
func TestWebhookCallbackForAnotherChat(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.WebhookURL = "https://lifeline.example.org/telegram/webhook"
		c.WebhookSecret = testSecret
	})
	f.private = append(f.private, otherAddr, presserName, "Choose")
	var mu sync.Mutex
	var groups []int64
	f.a.Group = func(_ context.Context, u *models.Update) error {
		mu.Lock()
		defer mu.Unlock()
		groups = append(groups, u.ID)
		return nil
	}
	rec := bottest.NewReceiver(nil)
	f.run(t, rec)
	waitFor(t, "setWebhook", func() bool { return len(f.api.CallsTo("setWebhook")) == 1 })
	mux := http.NewServeMux()
	f.a.Register(mux)
	serve := func(body string) int {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, webhookRequest(body, testSecret))
		return w.Code
	}

	for i, msg := range []string{onMessage(otherID, "private", date), onMessage(otherID, "private", 0), ""} {
		id := 60 + i
		if code := serve(pressJSON(id, chatID, "v1:3:delete", msg)); code != http.StatusOK {
			t.Errorf("press %d: status %d", id, code)
		}
	}
	if got := rec.Accepted(); len(got) != 0 {
		t.Errorf("presses on another chat reached the runtime: %+v", got)
	}
	var answered []string
	for _, c := range f.api.CallsTo("answerCallbackQuery") {
		answered = append(answered, c.Params["callback_query_id"])
	}
	if got := strings.Join(answered, ","); got != "cb60,cb61,cb62" {
		t.Errorf("answered %q, want every press answered once", got)
	}
	logs := f.logs.String()
	for _, id := range []string{"60", "61", "62"} {
		if !strings.Contains(logs, `"event":"callback_refused","update_id":`+id) {
			t.Errorf("press %s not logged as refused:\n%s", id, logs)
		}
	}

	// A coach's Claim in the coaches' group goes to the Group hook.
	if code := serve(pressJSON(70, coachUser, "v1:0:claim:ab12", onMessage(groupID, "supergroup", date))); code != http.StatusOK {
		t.Errorf("group press: status %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(groups) != 1 || groups[0] != 70 {
		t.Errorf("Group hook got %v, want the coach's press", groups)
	}
}

// coachUser is a coach's user id in these tests.
const coachUser = 555000222
