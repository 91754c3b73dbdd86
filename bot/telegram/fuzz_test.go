package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// Fuzz tests for where Telegram's input enters: the webhook body, the
// update it decodes to, and a button's callback_data. Run one with
//
//	go test -run XXX -fuzz FuzzWebhookUpdate -fuzztime 10m -parallel 1 ./bot/telegram/
//
// Plain go test runs only the seeds (f.Add and testdata/fuzz/<name>/).

// fuzzReceiver records what the adapter hands the runtime, and checks each
// Inbound the way the runtime's Accept needs it: channel, address and
// message id set, and the whole of it storable as JSON.
type fuzzReceiver struct {
	mu     sync.Mutex
	got    []bot.Inbound
	groups []int64
	bad    []string
}

func (r *fuzzReceiver) Accept(_ context.Context, in bot.Inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, in)
	if in.Channel == "" || in.Address == "" || in.MessageID == "" {
		r.bad = append(r.bad, fmt.Sprintf("inbound lacks channel, address or message id: %+v", in))
	}
	if _, err := json.Marshal(in); err != nil {
		// The runtime would refuse it for ever: Telegram retries a 503
		// without end, and long polling stalls on it.
		r.bad = append(r.bad, fmt.Sprintf("inbound cannot be stored as JSON: %v", err))
	}
	return nil
}

func (r *fuzzReceiver) group(_ context.Context, u *models.Update) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, u.ID)
	return nil
}

func (r *fuzzReceiver) take() (got []bot.Inbound, groups []int64, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	got, groups, bad = r.got, r.groups, r.bad
	r.got, r.groups, r.bad = nil, nil, nil
	return got, groups, bad
}

// webhookRig is one running webhook adapter against the fake Bot API,
// shared by every input of a fuzzing process (they run one at a time).
type webhookRig struct {
	mux  *http.ServeMux
	rec  *fuzzReceiver
	logs *bottest.Buffer
	now  time.Time
}

func newWebhookRig(f *testing.F) *webhookRig {
	f.Helper()
	api := telegramtest.NewServer(f)
	logs := &bottest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(Config{
		Token:          testToken,
		APIURL:         api.URL,
		WebhookURL:     "https://lifeline.example.org/telegram/webhook",
		WebhookSecret:  testSecret,
		GlobalRate:     10000,
		PerChatRate:    10000,
		EphemeralDelay: time.Hour,
	}, logger)
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	rig := &webhookRig{mux: http.NewServeMux(), rec: &fuzzReceiver{}, logs: logs, now: clock}
	a.now = func() time.Time { return rig.now }
	a.Group = rig.rec.group
	a.Register(rig.mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, rig.rec) }()
	f.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.Errorf("Run: %v", err)
		}
		if logs := logs.String(); strings.Contains(logs, testToken) || strings.Contains(logs, testSecret) {
			f.Errorf("log contains the token or the secret")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); len(api.CallsTo("setWebhook")) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			f.Fatal("Run did not set the webhook")
		}
	}
	return rig
}

// fuzzUpdates are real updates, as Telegram sends them, for the seeds.
func fuzzUpdates() []string {
	private := func(body string) string { return msgJSON("private", chatID, body) }
	botMsg := `,"message":` + private(`,"text":"Choose a topic","reply_markup":{"inline_keyboard":[[{"text":"Documents","callback_data":"v1:4:documents"}]]}`)
	real := func(u *models.Update, id int64) string {
		u.ID = id
		b, err := json.Marshal(u)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	return []string{
		`{"update_id":41,"message":` + private(`,"text":"help me"`) + `}`,
		`{"update_id":42,"message":` + private(`,"text":"/start abc","entities":[{"type":"bot_command","offset":0,"length":6}]`) + `}`,
		`{"update_id":43,"message":` + private(`,"text":"/menu@LifelineBot","entities":[{"type":"bot_command","offset":0,"length":17}]`) + `}`,
		`{"update_id":44,"message":` + private(`,"text":"Мне нужна помощь, у меня забрали паспорт"`) + `}`,
		`{"update_id":45,"message":` + private(`,"text":"أحتاج مساعدة \u200f١٢"`) + `}`,
		`{"update_id":46,"message":` + private(`,"text":"मलाई मद्दत चाहिन्छ ३"`) + `}`,
		`{"update_id":47,"message":` + private(`,"text":"Kailangan ko ng tulong 👨\u200d👩\u200d👧 🇵🇭"`) + `}`,
		`{"update_id":48,"message":` + private(`,"text":"\ud83d\ude00 lone \ud800 surrogate and \u0000 nul"`) + `}`,
		`{"update_id":49,"message":` + private(`,"photo":[{"file_id":"f","file_unique_id":"u","width":1,"height":1}],"caption":"my passport"`) + `}`,
		`{"update_id":50,"message":` + private(`,"voice":{"file_id":"f","file_unique_id":"u","duration":3}`) + `}`,
		`{"update_id":51,"message":` + private(`,"sticker":{"file_id":"f","file_unique_id":"u","type":"regular","width":1,"height":1,"is_animated":false,"is_video":false}`) + `}`,
		`{"update_id":52,"message":` + private(`,"location":{"latitude":1.5,"longitude":2.5}`) + `}`,
		`{"update_id":53,"message":` + private(`,"contact":{"phone_number":"+447700900123","first_name":"B"}`) + `}`,
		`{"update_id":54,"message":` + private(`,"forward_origin":{"type":"user","date":1,"sender_user":{"id":3,"is_bot":false,"first_name":"C"}},"text":"fwd"`) + `}`,
		`{"update_id":55,"message":` + private(`,"message_auto_delete_timer_changed":{"message_auto_delete_time":86400}`) + `}`,
		`{"update_id":56,"edited_message":` + private(`,"text":"hello!","edit_date":1767225700`) + `}`,
		`{"update_id":57,"message":` + msgJSON("supergroup", groupID, `,"text":"claim"`) + `}`,
		`{"update_id":58,"message":` + msgJSON("group", groupID, `,"text":"hi"`) + `}`,
		`{"update_id":59,"channel_post":` + msgJSON("channel", groupID, `,"text":"hi"`) + `}`,
		`{"update_id":60,"my_chat_member":{"chat":{"id":1,"type":"private"},"from":{"id":1,"is_bot":false,"first_name":"A"},"date":1,"old_chat_member":{"status":"member","user":{"id":2,"is_bot":true,"first_name":"B"}},"new_chat_member":{"status":"kicked","user":{"id":2,"is_bot":true,"first_name":"B"},"until_date":0}}}`,
		`{"update_id":61,"callback_query":` + cbJSON("v1:4:documents", botMsg) + `}`,
		`{"update_id":62,"callback_query":` + cbJSON("v1:12:a:b", botMsg) + `}`,
		`{"update_id":63,"callback_query":` + cbJSON("v1:3:yes", fmt.Sprintf(`,"message":{"message_id":1,"date":0,"chat":{"id":%d,"type":"private"}}`, chatID)) + `}`,
		`{"update_id":64,"callback_query":` + cbJSON("v1:3:yes", "") + `}`,
		`{"update_id":65,"callback_query":` + cbJSON("v2:3:yes", botMsg) + `}`,
		`{"update_id":66,"callback_query":` + cbJSON("v1:-2:yes", botMsg) + `}`,
		`{"update_id":67,"callback_query":` + cbJSON("v1:3:claim", `,"message":`+msgJSON("supergroup", groupID, `,"text":"case"`)) + `}`,
		`{"update_id":68,"callback_query":` + cbJSON("", `,"message":null`) + `}`,
		`{"update_id":69}`,
		`{"update_id":70,"message":` + private(`,"text":"`+strings.Repeat("Мой паспорт у работодателя. ", 150)+`"`) + `}`,
		real(telegramtest.TextUpdate(chatID, "hi"), 71),
		real(telegramtest.TextUpdate(chatID, "/stop"), 72),
		real(telegramtest.CallbackUpdate(chatID, 1001, "v1:7:continue"), 73),
		real(telegramtest.PhotoUpdate(chatID), 74),
		real(telegramtest.GroupTextUpdate(groupID, 9, "/claim 12"), 75),
	}
}

// fuzzJunk is input that is not an update, for the seeds.
var fuzzJunk = []string{
	``,
	`null`,
	`[]`,
	`{}`,
	`{"update_id":0,"message":{"text":"x"}}`,
	`{"update_id":-5}`,
	`{"update_id":9223372036854775807}`,
	`{"update_id":9223372036854775808}`,
	`{"update_id":1.5}`,
	`{"update_id":"41"}`,
	`{"update_id":41,"message":`,
	`{"update_id":41,"update_id":42,"message":{"chat":{"id":1,"type":"private"},"text":"x","date":1}}`,
	`{"update_id":41,"message":{"chat":{"id":1,"type":"private"},"text":"x","date":-99999999999999}}`,
	`{"update_id":41,"callback_query":{"id":"q","from":{"id":1},"message":"x","data":"v1:1:a"}}`,
	"\x00\xff\xfe\x89PNG\r\n\x1a\n",
	"{\"update_id\":41,\"message\":{\"chat\":{\"id\":1,\"type\":\"private\"},\"date\":1,\"text\":\"\xff\xfe bad utf-8\"}}",
	strings.Repeat("[", 20000),
}

func FuzzWebhookUpdate(f *testing.F) {
	for _, u := range fuzzUpdates() {
		f.Add([]byte(u))
	}
	for _, j := range fuzzJunk {
		f.Add([]byte(j))
	}
	// Over the 1 MiB cap.
	f.Add([]byte(`{"update_id":41,"message":` + msgJSON("private", chatID, `,"text":"`+strings.Repeat("a", 1<<20)+`"`) + `}`))
	rig := newWebhookRig(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rig.rec.take()
		rig.logs.Reset()

		r := httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(SecretHeader, testSecret)
		w := httptest.NewRecorder()
		rig.mux.ServeHTTP(w, r)

		got, groups, bad := rig.rec.take()
		for _, b := range bad {
			t.Error(b)
		}
		// With the right secret and a receiver that always accepts, 403 and
		// 503 cannot happen; 500 would mean the handler panicked.
		switch w.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(got)+len(groups) > 0 {
				t.Errorf("answered %d but handed over %d inbound and %d group updates", w.Code, len(got), len(groups))
			}
			if len(body) >= 64 && strings.Contains(rig.logs.String(), string(body)) {
				t.Errorf("log holds the refused body")
			}
			return
		default:
			t.Fatalf("status %d for a body of %d bytes: %s", w.Code, len(body), w.Body)
		}
		if len(got)+len(groups) > 1 {
			t.Fatalf("one update handed over %d times (inbound %+v, group %v)", len(got)+len(groups), got, groups)
		}
		var u models.Update
		if err := json.Unmarshal(body, &u); err != nil || u.ID <= 0 {
			t.Fatalf("answered 200 to an update that does not decode: %v", err)
		}
		if len(groups) == 1 && groups[0] != u.ID {
			t.Errorf("group hook got update %d, want %d", groups[0], u.ID)
		}
		if len(got) == 0 {
			return
		}
		in := got[0]
		checkInbound(t, &u, in)
		if in.At.IsZero() {
			t.Error("At left zero")
		}
		logs := rig.logs.String()
		for _, p := range []string{in.Text, in.Address} {
			if len(p) >= 6 && strings.Contains(logs, p) {
				t.Errorf("log holds private data %q:\n%s", p, logs)
			}
		}
	})
}

// checkInbound checks what Normalize made of u.
func checkInbound(t *testing.T, u *models.Update, in bot.Inbound) {
	t.Helper()
	if !utf8.ValidString(in.Text) || !utf8.ValidString(in.Choice) {
		t.Errorf("inbound text or choice is not valid UTF-8: %q %q", in.Text, in.Choice)
	}
	if in.Channel != Name {
		t.Errorf("Channel %q", in.Channel)
	}
	if want := "u" + strconv.FormatInt(u.ID, 10); in.MessageID != want {
		t.Errorf("MessageID %q, want %q", in.MessageID, want)
	}
	if _, err := strconv.ParseInt(in.Address, 10, 64); err != nil {
		t.Errorf("Address %q is not a chat id", in.Address)
	}
	if oneKind(u) && ChatType(u) != models.ChatTypePrivate {
		t.Errorf("inbound from a %q chat", ChatType(u))
	}
	switch {
	case u.Message != nil:
		if in.Choice != "" || in.Prompt != 0 {
			t.Errorf("a message became a button press: %+v", in)
		}
		if in.Text != u.Message.Text {
			t.Errorf("Text %q, sent %q", in.Text, u.Message.Text)
		}
		if (in.Text == "") == !in.NotText {
			t.Errorf("Text %q with NotText %v", in.Text, in.NotText)
		}
		if in.PlatformMsg != int64(u.Message.ID) {
			t.Errorf("PlatformMsg %d, want %d", in.PlatformMsg, u.Message.ID)
		}
	case u.CallbackQuery != nil:
		if in.Text != "" || in.NotText || in.Choice == "" {
			t.Errorf("a button press became %+v", in)
		}
		if in.Prompt < 0 && (in.Choice != StaleChoice || in.Prompt != -1) {
			t.Errorf("button %q read as %q at prompt %d", u.CallbackQuery.Data, in.Choice, in.Prompt)
		}
		if opt, p, ok := parseCallbackData(u.CallbackQuery.Data); ok && (opt != in.Choice || p != in.Prompt) {
			t.Errorf("button %q read as %q at prompt %d", u.CallbackQuery.Data, in.Choice, in.Prompt)
		}
		if in.Address != strconv.FormatInt(u.CallbackQuery.From.ID, 10) {
			t.Errorf("a button press acts on chat %s, not on the presser's", in.Address)
		}
	default:
		t.Errorf("inbound from an update with neither message nor button: %+v", in)
	}
}

// oneKind reports whether u is one kind of update, as Telegram's always
// are ("at most one of the optional parameters can be present"). ChatType
// and Normalize may disagree about a mixed one, which only a forger makes.
func oneKind(u *models.Update) bool {
	n := 0
	for _, set := range []bool{u.Message != nil, u.EditedMessage != nil, u.ChannelPost != nil,
		u.CallbackQuery != nil, u.MyChatMember != nil, u.ChatMember != nil} {
		if set {
			n++
		}
	}
	return n <= 1
}

func FuzzNormalize(f *testing.F) {
	for _, u := range fuzzUpdates() {
		f.Add([]byte(u))
	}
	for _, j := range fuzzJunk {
		f.Add([]byte(j))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var u models.Update
		if json.Unmarshal(raw, &u) != nil {
			return
		}
		typ := ChatType(&u)
		in, ok := Normalize(&u)
		if !ok {
			if in != (bot.Inbound{}) {
				t.Errorf("ignored update gave %+v", in)
			}
			// A text in a private chat is never ignored.
			if m := u.Message; m != nil && m.Chat.Type == models.ChatTypePrivate && m.Text != "" {
				t.Errorf("private text ignored")
			}
			return
		}
		if oneKind(&u) && typ != models.ChatTypePrivate {
			t.Errorf("handed over an update from a %q chat", typ)
		}
		checkInbound(t, &u, in)
		if _, err := json.Marshal(in); err != nil {
			t.Errorf("inbound cannot be stored as JSON: %v", err)
		}
		if u.CallbackQuery != nil && u.Message == nil && !in.At.IsZero() {
			t.Errorf("a button press got a time of its own: %v", in.At)
		}
	})
}

func FuzzCallbackData(f *testing.F) {
	f.Add("v1:3:yes", 3, "yes")
	f.Add("v1:12:a:b", 12, "a:b")
	f.Add("v1:0:x", 0, "delete_yes")
	f.Add("v1:007:x", 7, strings.Repeat("x", 59))
	f.Add("v1:+7:x", 123456, strings.Repeat("x", 60))
	f.Add("v1:-2:yes", -2, "yes")
	f.Add("v1:9223372036854775808:x", 9223372036854775807, "x")
	f.Add("v2:3:yes", 3, "")
	f.Add("v1::yes", 1, "données ✓")
	f.Add("v1:3:", 1, "\xff")
	f.Add("v1:٣:yes", 1, ":")
	f.Add("", 0, "")
	f.Add("old-format", 1, "\x00")
	f.Fuzz(func(t *testing.T, data string, prompt int, option string) {
		// Reading: what parses is exactly what callbackData writes.
		if opt, p, ok := parseCallbackData(data); ok {
			if opt == "" || p < 0 {
				t.Errorf("parse(%q) = %q, %d", data, opt, p)
			}
			d, err := callbackData(p, opt)
			switch {
			case err == nil && d != data:
				t.Errorf("parse(%q) = %q, %d, which writes %q", data, opt, p, d)
			case err != nil && len(data) <= maxCallbackData:
				t.Errorf("parse(%q) = %q, %d, which does not write: %v", data, opt, p, err)
			}
		}
		// Writing: every button written reads back as itself, within
		// Telegram's limit. The engine's prompts are never negative; a
		// button with one reads as stale rather than as another button.
		d, err := callbackData(prompt, option)
		if err != nil {
			if option != "" && len(callbackVersion)+len(strconv.Itoa(prompt))+len(option)+2 <= maxCallbackData {
				t.Errorf("callbackData(%d, %q): %v", prompt, option, err)
			}
			return
		}
		if len(d) > maxCallbackData {
			t.Errorf("callbackData(%d, %q) = %d bytes", prompt, option, len(d))
		}
		opt, p, ok := parseCallbackData(d)
		if prompt < 0 {
			if ok {
				t.Errorf("button %q with a negative prompt read as %q at %d", d, opt, p)
			}
			return
		}
		if !ok || opt != option || p != prompt {
			t.Errorf("callbackData(%d, %q) = %q, read back as %q, %d, %v", prompt, option, d, opt, p, ok)
		}
	})
}
