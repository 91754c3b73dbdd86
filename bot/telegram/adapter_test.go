package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

const (
	testToken  = "123456:TEST-token-must-not-be-logged"
	testSecret = "s3cret_Token-for-tests"
	chatID     = 555000111
	chatAddr   = "555000111"
	groupID    = -1009990001
)

// fixture is an adapter wired to a fake Bot API. When the test ends it
// checks that the log holds no token, chat id or message text (the fake
// itself checks the calls against the Bot API spec).
type fixture struct {
	a    *Adapter
	api  *telegramtest.Server
	logs *bottest.Buffer
	// private lists strings that must never reach the log.
	private []string
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{api: telegramtest.NewServer(t), logs: &bottest.Buffer{}}
	cfg := Config{
		Token:       testToken,
		APIURL:      f.api.URL,
		GlobalRate:  10000,
		PerChatRate: 10000,
		// Group chats keep Telegram's default (20 a minute).
		EphemeralDelay: time.Hour,
	}
	if mod != nil {
		mod(&cfg)
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.a = a
	f.private = []string{testToken, testSecret, chatAddr, strconv.Itoa(groupID)}
	t.Cleanup(func() {
		logs := f.logs.String()
		for _, p := range f.private {
			if p != "" && strings.Contains(logs, p) {
				t.Errorf("log contains private data %q:\n%s", p, logs)
			}
		}
	})
	return f
}

// run starts Run in the background and stops it when the test ends.
func (f *fixture) run(t *testing.T, r bot.Receiver) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.a.Run(ctx, r) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

var waitFor = bottest.WaitFor

func TestNewConfig(t *testing.T) {
	api := telegramtest.NewServer(t)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{Token: testToken, APIURL: api.URL}, ""},
		{"webhook", Config{Token: testToken, APIURL: api.URL, WebhookURL: "https://example.org/telegram/webhook", WebhookSecret: testSecret}, ""},
		{"secret of 256", Config{Token: testToken, APIURL: api.URL, WebhookURL: "https://example.org/w", WebhookSecret: strings.Repeat("a", 256)}, ""},
		{"no token", Config{APIURL: api.URL}, "no bot token"},
		{"bad API URL", Config{Token: testToken, APIURL: "ftp://x"}, "not an http(s) URL"},
		{"webhook without secret", Config{Token: testToken, APIURL: api.URL, WebhookURL: "https://example.org/w"}, "needs a secret"},
		{"webhook over http", Config{Token: testToken, APIURL: api.URL, WebhookURL: "http://example.org/w", WebhookSecret: testSecret}, "https"},
		{"secret with bad characters", Config{Token: testToken, APIURL: api.URL, WebhookURL: "https://example.org/w", WebhookSecret: "a b"}, "secret token must be"},
		{"secret of 257", Config{Token: testToken, APIURL: api.URL, WebhookURL: "https://example.org/w", WebhookSecret: strings.Repeat("a", 257)}, "secret token must be"},
		{"negative rate", Config{Token: testToken, APIURL: api.URL, PerChatRate: -1}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(tc.cfg, slog.New(slog.DiscardHandler))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if a.Name() != "telegram" {
					t.Errorf("Name() = %q", a.Name())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: %v, want error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	if n := len(api.CallsTo("getMe")); n != 3 {
		t.Errorf("getMe called %d times, want once per valid config (3)", n)
	}
}

func TestNewBadToken(t *testing.T) {
	api := telegramtest.NewServer(t)
	api.Respond("getMe", telegramtest.Response{ErrorCode: 401, Description: "Unauthorized"})
	_, err := New(Config{Token: testToken, APIURL: api.URL}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("New accepted a token Telegram refused")
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the token: %v", err)
	}
}

// Interface checks: the runtime uses the adapter through these.
var (
	_ bot.Channel = (*Adapter)(nil)
	_ bot.Clearer = (*Adapter)(nil)
)

func update(t *testing.T, raw string) *models.Update {
	t.Helper()
	var u models.Update
	if err := json.Unmarshal([]byte(raw), &u); err != nil {
		t.Fatalf("update %s: %v", raw, err)
	}
	return &u
}

const date = 1767225600 // 2026-01-01T00:00:00Z

// clock is the adapter's time in tests that fix it.
var clock = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func msgJSON(chatType string, chat int64, body string) string {
	return fmt.Sprintf(`{"message_id":77,"date":%d,"chat":{"id":%d,"type":%q},"from":{"id":9,"is_bot":false,"first_name":"A"}%s}`, date, chat, chatType, body)
}

func cbJSON(data, message string) string {
	return fmt.Sprintf(`{"id":"cb1","from":{"id":%d,"is_bot":false,"first_name":"A"},"chat_instance":"ci","data":%q%s}`, chatID, data, message)
}

func TestNormalize(t *testing.T) {
	at := time.Unix(date, 0).UTC()
	private := func(body string) string { return msgJSON("private", chatID, body) }
	botMsg := `,"message":` + private(`,"text":"menu"`)
	base := bot.Inbound{Channel: "telegram", Address: chatAddr, MessageID: "u5", PlatformMsg: 77, At: at}
	with := func(f func(*bot.Inbound)) bot.Inbound { in := base; f(&in); return in }
	press := func(choice string, prompt int) bot.Inbound {
		return bot.Inbound{Channel: "telegram", Address: chatAddr, MessageID: "u5", Choice: choice, Prompt: prompt}
	}
	tests := []struct {
		name   string
		update string
		want   bot.Inbound
		ok     bool
	}{
		{"text", `{"update_id":5,"message":` + private(`,"text":"hello"`) + `}`,
			with(func(in *bot.Inbound) { in.Text = "hello" }), true},
		{"command with bot name passes through", `{"update_id":5,"message":` + private(`,"text":"/menu@LifelineBot","entities":[{"type":"bot_command","offset":0,"length":17}]`) + `}`,
			with(func(in *bot.Inbound) { in.Text = "/menu@LifelineBot" }), true},
		{"start with payload", `{"update_id":5,"message":` + private(`,"text":"/start abc"`) + `}`,
			with(func(in *bot.Inbound) { in.Text = "/start abc" }), true},
		{"photo", `{"update_id":5,"message":` + private(`,"photo":[{"file_id":"f","file_unique_id":"u","width":1,"height":1}]`) + `}`,
			with(func(in *bot.Inbound) { in.NotText = true }), true},
		{"photo with caption keeps no text", `{"update_id":5,"message":` + private(`,"photo":[{"file_id":"f","file_unique_id":"u","width":1,"height":1}],"caption":"my passport"`) + `}`,
			with(func(in *bot.Inbound) { in.NotText = true }), true},
		{"voice", `{"update_id":5,"message":` + private(`,"voice":{"file_id":"f","file_unique_id":"u","duration":3}`) + `}`,
			with(func(in *bot.Inbound) { in.NotText = true }), true},
		{"sticker", `{"update_id":5,"message":` + private(`,"sticker":{"file_id":"f","file_unique_id":"u","type":"regular","width":1,"height":1,"is_animated":false,"is_video":false}`) + `}`,
			with(func(in *bot.Inbound) { in.NotText = true }), true},
		{"location", `{"update_id":5,"message":` + private(`,"location":{"latitude":1.5,"longitude":2.5}`) + `}`,
			with(func(in *bot.Inbound) { in.NotText = true }), true},
		{"document", `{"update_id":5,"message":` + private(`,"document":{"file_id":"f","file_unique_id":"u"}`) + `}`,
			with(func(in *bot.Inbound) { in.NotText = true }), true},
		{"contact", `{"update_id":5,"message":` + private(`,"contact":{"phone_number":"+1","first_name":"B"}`) + `}`,
			with(func(in *bot.Inbound) { in.NotText = true }), true},
		{"service message ignored", `{"update_id":5,"message":` + private(`,"message_auto_delete_timer_changed":{"message_auto_delete_time":86400}`) + `}`,
			bot.Inbound{}, false},
		{"edited message ignored", `{"update_id":5,"edited_message":` + private(`,"text":"hello!","edit_date":1767225700`) + `}`,
			bot.Inbound{}, false},
		{"group message ignored", `{"update_id":5,"message":` + msgJSON("group", groupID, `,"text":"hi"`) + `}`,
			bot.Inbound{}, false},
		{"supergroup message ignored", `{"update_id":5,"message":` + msgJSON("supergroup", groupID, `,"text":"hi"`) + `}`,
			bot.Inbound{}, false},
		{"channel post ignored", `{"update_id":5,"channel_post":` + msgJSON("channel", groupID, `,"text":"hi"`) + `}`,
			bot.Inbound{}, false},
		{"blocked the bot ignored", `{"update_id":5,"my_chat_member":{"chat":{"id":1,"type":"private"},"from":{"id":1,"is_bot":false,"first_name":"A"},"date":1,"old_chat_member":{"status":"member","user":{"id":2,"is_bot":true,"first_name":"B"}},"new_chat_member":{"status":"kicked","user":{"id":2,"is_bot":true,"first_name":"B"},"until_date":0}}}`,
			bot.Inbound{}, false},
		{"button", `{"update_id":5,"callback_query":` + cbJSON("v1:3:yes", botMsg) + `}`, press("yes", 3), true},
		{"button id with colon", `{"update_id":5,"callback_query":` + cbJSON("v1:12:a:b", botMsg) + `}`, press("a:b", 12), true},
		{"button on an old message", `{"update_id":5,"callback_query":` + cbJSON("v1:3:yes", fmt.Sprintf(`,"message":{"message_id":1,"date":0,"chat":{"id":%d,"type":"private"}}`, chatID)) + `}`, press("yes", 3), true},
		{"button without message ignored", `{"update_id":5,"callback_query":` + cbJSON("v1:3:yes", "") + `}`, bot.Inbound{}, false},
		{"other version is stale", `{"update_id":5,"callback_query":` + cbJSON("v2:3:yes", botMsg) + `}`, press("?", -1), true},
		{"no version is stale", `{"update_id":5,"callback_query":` + cbJSON("yes", botMsg) + `}`, press("?", -1), true},
		{"bad prompt is stale", `{"update_id":5,"callback_query":` + cbJSON("v1:x:yes", botMsg) + `}`, press("?", -1), true},
		{"negative prompt is stale", `{"update_id":5,"callback_query":` + cbJSON("v1:-2:yes", botMsg) + `}`, press("?", -1), true},
		{"empty option is stale", `{"update_id":5,"callback_query":` + cbJSON("v1:3:", botMsg) + `}`, press("?", -1), true},
		{"no data is stale", `{"update_id":5,"callback_query":` + cbJSON("", botMsg) + `}`, press("?", -1), true},
		{"button in group ignored", `{"update_id":5,"callback_query":` + cbJSON("v1:3:claim", `,"message":`+msgJSON("supergroup", groupID, `,"text":"case"`)) + `}`,
			bot.Inbound{}, false},
		{"empty update", `{"update_id":5}`, bot.Inbound{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Normalize(update(t, tc.update))
			if ok != tc.ok || got != tc.want {
				t.Errorf("Normalize = %+v, %v\nwant        %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := Normalize(nil); ok {
		t.Error("Normalize(nil) reported true")
	}
}

func TestChatType(t *testing.T) {
	tests := []struct {
		update string
		want   models.ChatType
	}{
		{`{"update_id":1,"message":` + msgJSON("private", chatID, `,"text":"x"`) + `}`, models.ChatTypePrivate},
		{`{"update_id":1,"message":` + msgJSON("supergroup", groupID, `,"text":"x"`) + `}`, models.ChatTypeSupergroup},
		{`{"update_id":1,"callback_query":` + cbJSON("v1:1:claim", `,"message":`+msgJSON("group", groupID, `,"text":"x"`)) + `}`, models.ChatTypeGroup},
		{`{"update_id":1}`, ""},
	}
	for _, tc := range tests {
		if got := ChatType(update(t, tc.update)); got != tc.want {
			t.Errorf("ChatType(%s) = %q, want %q", tc.update, got, tc.want)
		}
	}
}

func TestCallbackDataRoundTrip(t *testing.T) {
	tests := []struct {
		prompt  int
		option  string
		wantErr bool
	}{
		{1, "yes", false},
		{123456, "delete_yes", false},
		{7, strings.Repeat("x", 64-len("v1:7:")), false},
		{7, strings.Repeat("x", 64-len("v1:7:")+1), true},
		{7, "", true},
	}
	for _, tc := range tests {
		d, err := callbackData(tc.prompt, tc.option)
		if (err != nil) != tc.wantErr {
			t.Errorf("callbackData(%d, %q): %v", tc.prompt, tc.option, err)
			continue
		}
		if err != nil {
			continue
		}
		if len(d) > 64 {
			t.Errorf("callbackData(%d, %q) = %d bytes", tc.prompt, tc.option, len(d))
		}
		opt, p, ok := parseCallbackData(d)
		if !ok || opt != tc.option || p != tc.prompt {
			t.Errorf("parse(%q) = %q, %d, %v", d, opt, p, ok)
		}
	}
}

// wantCall is an API call a test expects, with all of its parameters.
type wantCall struct {
	method string
	params map[string]string
}

// previewsOff is how every sendMessage turns link previews off.
const previewsOff = `{"is_disabled":true}`

func sendParams(text, markup string) map[string]string {
	p := map[string]string{"chat_id": chatAddr, "text": text, "link_preview_options": previewsOff}
	if markup != "" {
		p["reply_markup"] = markup
	}
	return p
}

func TestSend(t *testing.T) {
	yesNo := []bot.OutOption{{ID: "yes", Label: "Yes"}, {ID: "no", Label: "No"}}
	yesNoMarkup := `{"inline_keyboard":[[{"text":"Yes","callback_data":"v1:4:yes"}],[{"text":"No","callback_data":"v1:4:no"}]]}`
	tests := []struct {
		name    string
		addr    string
		msg     bot.Outbound
		want    []wantCall
		wantErr bool // a non-retryable *bot.SendError, with no call made
	}{
		{
			name: "plain text",
			msg:  bot.Outbound{Text: "Hello."},
			want: []wantCall{{"sendMessage", sendParams("Hello.", "")}},
		},
		{
			name: "options as one button per row",
			msg:  bot.Outbound{Text: "Are you safe?", Options: yesNo, Prompt: 4},
			want: []wantCall{{"sendMessage", sendParams("Are you safe?", yesNoMarkup)}},
		},
		{
			name: "markup characters sent as they are, with no parse_mode",
			msg:  bot.Outbound{Text: "You wrote: <b>*boss*</b> _[x](tg://user?id=1)_"},
			want: []wantCall{{"sendMessage", sendParams("You wrote: <b>*boss*</b> _[x](tg://user?id=1)_", "")}},
		},
		{
			name: "invalid UTF-8 made valid",
			msg:  bot.Outbound{Text: "a\xffb\xc3"},
			want: []wantCall{{"sendMessage", sendParams("a\uFFFDb\uFFFD", "")}},
		},
		{
			name: "control bytes kept",
			msg:  bot.Outbound{Text: "x\x00\x01\x7f y"},
			want: []wantCall{{"sendMessage", sendParams("x\x00\x01\x7f y", "")}},
		},
		{
			name: "label made valid UTF-8",
			msg:  bot.Outbound{Text: "Pick", Options: []bot.OutOption{{ID: "a", Label: "\xffA"}}, Prompt: 1},
			want: []wantCall{{"sendMessage", sendParams("Pick", `{"inline_keyboard":[[{"text":"`+"\uFFFD"+`A","callback_data":"v1:1:a"}]]}`)}},
		},
		{
			name: "group chat",
			addr: strconv.Itoa(groupID),
			msg:  bot.Outbound{Text: "New case"},
			want: []wantCall{{"sendMessage", map[string]string{"chat_id": strconv.Itoa(groupID), "text": "New case", "link_preview_options": previewsOff}}},
		},
		{
			name: "silent: no sound or vibration",
			msg:  bot.Outbound{Text: "A reminder", Silent: true},
			want: []wantCall{{"sendMessage", with(sendParams("A reminder", ""), "disable_notification", "true")}},
		},
		{
			name: "protected: cannot be forwarded or saved",
			msg:  bot.Outbound{Text: "Your documents", Protect: true, Options: yesNo, Prompt: 4},
			want: []wantCall{{"sendMessage", with(sendParams("Your documents", yesNoMarkup), "protect_content", "true")}},
		},
		{
			name: "link in the text, previews off",
			msg:  bot.Outbound{Text: "See https://www.ilo.org/forced-labour"},
			want: []wantCall{{"sendMessage", sendParams("See https://www.ilo.org/forced-labour", "")}},
		},
		{name: "option id too long", msg: bot.Outbound{Text: "x", Options: []bot.OutOption{{ID: strings.Repeat("o", 60), Label: "L"}}, Prompt: 1}, wantErr: true},
		{name: "option without label", msg: bot.Outbound{Text: "x", Options: []bot.OutOption{{ID: "a", Label: " "}}, Prompt: 1}, wantErr: true},
		{name: "empty text", msg: bot.Outbound{Text: " \n "}, wantErr: true},
		{name: "address not a chat id", addr: "+4915112345678", msg: bot.Outbound{Text: "x"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.private = append(f.private, "boss")
			addr := tc.addr
			if addr == "" {
				addr = chatAddr
			}
			id, err := f.a.Send(context.Background(), addr, tc.msg)
			if tc.wantErr {
				var se *bot.SendError
				if !errors.As(err, &se) || se.Retryable || se.Unreachable {
					t.Errorf("Send: %v, want a non-retryable *bot.SendError", err)
				}
				if calls := f.api.CallsTo("sendMessage"); len(calls) != 0 {
					t.Errorf("sent %d messages despite the error", len(calls))
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkCalls(t, f.api, tc.want)
			msgs := f.api.Messages(mustInt(t, addr))
			if len(msgs) == 0 || id != int64(msgs[len(msgs)-1].ID) {
				t.Errorf("Send returned id %d, want the last message's", id)
			}
		})
	}
}

// with returns p with k set to v.
func with(p map[string]string, k, v string) map[string]string {
	p[k] = v
	return p
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkCalls compares the calls other than getMe with want, parameters
// and all.
func checkCalls(t *testing.T, api *telegramtest.Server, want []wantCall) {
	t.Helper()
	var got []wantCall
	for _, c := range api.Calls() {
		if c.Method != "getMe" {
			got = append(got, wantCall{c.Method, c.Params})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d calls, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i].method != want[i].method || !mapsEqual(got[i].params, want[i].params) {
			t.Errorf("call %d:\ngot  %s %q\nwant %s %q", i, got[i].method, got[i].params, want[i].method, want[i].params)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestSendLongText(t *testing.T) {
	para := strings.Repeat("Your passport belongs to you. ", 20) // 600 chars
	emoji := strings.Repeat("🆘", 3000)                           // 6000 UTF-16 units, no spaces
	lines := strings.Repeat(strings.Repeat("l", 99)+"\n", 100)
	tests := []struct {
		name string
		text string
		// min is the fewest parts; the exact count depends on the cuts.
		min int
	}{
		{"100 KB of paragraphs", strings.Repeat(para+"\n\n", 170), 26},
		{"no breaks at all", strings.Repeat("x", 100_000), 25},
		{"astral characters count twice", emoji, 2},
		{"lines without paragraphs", lines, 3},
		{"just under the limit", strings.Repeat("y", maxPartUnits), 1},
	}
	opts := []bot.OutOption{{ID: "menu", Label: "Menu"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			id, err := f.a.Send(context.Background(), chatAddr, bot.Outbound{Text: tc.text, Options: opts, Prompt: 2})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			calls := f.api.CallsTo("sendMessage")
			if len(calls) < tc.min {
				t.Errorf("%d parts, want at least %d", len(calls), tc.min)
			}
			var joined strings.Builder
			for i, c := range calls {
				text := c.Params["text"]
				if n := utf16Len(text); n >= 4096 || n == 0 {
					t.Errorf("part %d is %d UTF-16 units", i, n)
				}
				if _, has := c.Params["reply_markup"]; has != (i == len(calls)-1) {
					t.Errorf("part %d of %d: reply_markup %v", i, len(calls), has)
				}
				joined.WriteString(text)
			}
			if strip(joined.String()) != strip(tc.text) {
				t.Error("parts do not add up to the text")
			}
			msgs := f.api.Messages(chatID)
			if id != int64(msgs[len(msgs)-1].ID) {
				t.Errorf("Send returned %d, want the last part's id %d", id, msgs[len(msgs)-1].ID)
			}
		})
	}
}

func strip(s string) string {
	return strings.Join(strings.Fields(s), "")
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"fits", "one two", 10, []string{"one two"}},
		{"paragraph first", "aaa bbb\nccc\n\nddd", 14, []string{"aaa bbb\nccc", "ddd"}},
		{"then line", "aaa bbb\nccc ddd", 12, []string{"aaa bbb", "ccc ddd"}},
		{"then word", "aaa bbb ccc", 9, []string{"aaa bbb", "ccc"}},
		{"then anywhere", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"surrogate pair not cut", "ab😀cd", 3, []string{"ab", "😀c", "d"}},
		{"blank parts dropped", "\n\n  a  \n\n\n\n  ", 3, []string{"a"}},
		{"only whitespace", " \n\t ", 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := splitText(tc.text, tc.limit)
			if !slices.Equal(got, tc.want) {
				t.Errorf("splitText(%q, %d) = %q, want %q", tc.text, tc.limit, got, tc.want)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name     string
		response *telegramtest.Response // nil: the server is closed
		want     bot.SendError
	}{
		{"flood control", ptr(telegramtest.TooManyRequests(7)), bot.SendError{Retryable: true, RetryAfter: 7 * time.Second, Code: 429}},
		{"blocked", ptr(telegramtest.Blocked()), bot.SendError{Unreachable: true, Code: 403}},
		{"deactivated", ptr(telegramtest.Deactivated()), bot.SendError{Unreachable: true, Code: 403}},
		{"bad request", ptr(telegramtest.BadRequest("chat not found")), bot.SendError{Code: 400}},
		{"group migrated", ptr(telegramtest.Response{ErrorCode: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", RetryAfter: 0}), bot.SendError{Code: 400}},
		{"server error", ptr(telegramtest.ServerError()), bot.SendError{Retryable: true}},
		{"connection dropped", ptr(telegramtest.Disconnect()), bot.SendError{Retryable: true}},
		{"server gone", nil, bot.SendError{Retryable: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tc.response != nil {
				f.api.Respond("sendMessage", *tc.response)
			} else {
				f.api.Close()
			}
			_, err := f.a.Send(context.Background(), chatAddr, bot.Outbound{Text: "Hello"})
			var se *bot.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send: %v, want a *bot.SendError", err)
			}
			if se.Retryable != tc.want.Retryable || se.Unreachable != tc.want.Unreachable ||
				se.RetryAfter != tc.want.RetryAfter || se.Code != tc.want.Code || se.Err == nil {
				t.Errorf("Send: %+v, want %+v", *se, tc.want)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestSendHoldsChatAfterFloodControl(t *testing.T) {
	f := newFixture(t, nil)
	f.api.Respond("sendMessage", telegramtest.TooManyRequests(30))
	if _, err := f.a.Send(context.Background(), chatAddr, bot.Outbound{Text: "a"}); err == nil {
		t.Fatal("Send succeeded despite 429")
	}
	// The chat is held for 30 s: a send to it waits (here, until its
	// context ends), while other chats go on.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.a.Send(ctx, chatAddr, bot.Outbound{Text: "b"})
	var se *bot.SendError
	if !errors.As(err, &se) || !se.Retryable || !errors.Is(err, context.Canceled) {
		t.Errorf("send to held chat: %v, want retryable context.Canceled", err)
	}
	if _, err := f.a.Send(context.Background(), "777", bot.Outbound{Text: "c"}); err != nil {
		t.Errorf("send to another chat: %v", err)
	}
}

func TestSendEphemeral(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.EphemeralDelay = 5 * time.Millisecond })
	id, err := f.a.Send(context.Background(), chatAddr, bot.Outbound{Text: "Chat cleared.", Ephemeral: true})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	waitFor(t, "the ephemeral message to be deleted", func() bool {
		m := f.api.Messages(chatID)
		return len(m) == 1 && m[0].Deleted
	})
	var ids []int
	if err := f.api.CallsTo("deleteMessages")[0].Decode("message_ids", &ids); err != nil || !slices.Equal(ids, []int{int(id)}) {
		t.Errorf("deleteMessages ids %v (%v), want [%d]", ids, err, id)
	}
}

func TestSendEphemeralDeletedWhenRunEnds(t *testing.T) {
	f := newFixture(t, nil) // EphemeralDelay is an hour
	stop := f.run(t, bottest.NewReceiver(nil))
	if _, err := f.a.Send(context.Background(), chatAddr, bot.Outbound{Text: "Chat cleared.", Ephemeral: true}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	stop()
	if m := f.api.Messages(chatID); len(m) != 1 || !m[0].Deleted {
		t.Errorf("after Run ended: %+v, want the message deleted", m)
	}
}

func TestClear(t *testing.T) {
	tests := []struct {
		name        string
		bot         int   // messages the bot sends first
		undeletable []int // indexes of those that can't be deleted
		extra       []int64
		response    *telegramtest.Response // first deleteMessages answer
		wantBatches []int                  // sizes of deleteMessages calls
		wantSingles int                    // deleteMessage calls
		wantLeft    int                    // messages not deleted
		wantErr     *bot.SendError
	}{
		{name: "one batch", bot: 3, wantBatches: []int{3}},
		{name: "150 in two batches", bot: 150, wantBatches: []int{100, 50}},
		{name: "old messages skipped one by one", bot: 4, undeletable: []int{1}, wantBatches: []int{4}, wantSingles: 4, wantLeft: 1},
		{name: "ids the chat no longer has", bot: 2, extra: []int64{999999, 0, -3}, wantBatches: []int{3}},
		{name: "blocked", bot: 2, response: ptr(telegramtest.Blocked()), wantBatches: []int{2}, wantLeft: 2, wantErr: &bot.SendError{Unreachable: true, Code: 403}},
		{name: "flood control", bot: 2, response: ptr(telegramtest.TooManyRequests(3)), wantBatches: []int{2}, wantLeft: 2, wantErr: &bot.SendError{Retryable: true, RetryAfter: 3 * time.Second, Code: 429}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			var ids []int64
			for i := range tc.bot {
				id, err := f.a.Send(context.Background(), chatAddr, bot.Outbound{Text: "m" + strconv.Itoa(i)})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			for _, i := range tc.undeletable {
				f.api.MakeUndeletable(chatID, int(ids[i]))
			}
			if tc.response != nil {
				f.api.Respond("deleteMessages", *tc.response)
			}
			err := f.a.Clear(context.Background(), chatAddr, append(ids, tc.extra...))
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Clear: %v", err)
			}
			if tc.wantErr != nil {
				var se *bot.SendError
				if !errors.As(err, &se) || se.Unreachable != tc.wantErr.Unreachable || se.Retryable != tc.wantErr.Retryable ||
					se.RetryAfter != tc.wantErr.RetryAfter || se.Code != tc.wantErr.Code {
					t.Errorf("Clear: %v, want %+v", err, *tc.wantErr)
				}
			}
			var batches []int
			for _, c := range f.api.CallsTo("deleteMessages") {
				var ids []int
				if err := c.Decode("message_ids", &ids); err != nil {
					t.Fatal(err)
				}
				batches = append(batches, len(ids))
			}
			if !slices.Equal(batches, tc.wantBatches) {
				t.Errorf("deleteMessages batches %v, want %v", batches, tc.wantBatches)
			}
			if n := len(f.api.CallsTo("deleteMessage")); n != tc.wantSingles {
				t.Errorf("%d deleteMessage calls, want %d", n, tc.wantSingles)
			}
			left := 0
			for _, m := range f.api.Messages(chatID) {
				if !m.Deleted {
					left++
				}
			}
			if left != tc.wantLeft {
				t.Errorf("%d messages left, want %d", left, tc.wantLeft)
			}
			if tc.wantLeft > 0 && tc.wantErr == nil && !strings.Contains(f.logs.String(), `"count":1`) {
				t.Errorf("failed deletions not counted in the log:\n%s", f.logs.String())
			}
		})
	}
}

func TestSetup(t *testing.T) {
	f := newFixture(t, nil)
	commands := map[string][]Command{
		"":   {{"menu", "Main menu"}, {"/coach", "Talk to a person"}},
		"es": {{"menu", "Menú principal"}},
	}
	names := map[string]string{"": "Lifeline", "es": "Línea de vida"}
	descs := map[string]string{"": "Information and support."}
	if err := f.a.Setup(context.Background(), commands, names, descs); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	scope := `{"type":"all_private_chats"}`
	checkCalls(t, f.api, []wantCall{
		{"setMyCommands", map[string]string{"commands": `[{"command":"menu","description":"Main menu"},{"command":"coach","description":"Talk to a person"}]`, "scope": scope}},
		{"setMyCommands", map[string]string{"commands": `[{"command":"menu","description":"Menú principal"}]`, "scope": scope, "language_code": "es"}},
		{"getMyName", map[string]string{}},
		{"setMyName", map[string]string{"name": "Lifeline"}},
		{"getMyName", map[string]string{"language_code": "es"}},
		{"setMyName", map[string]string{"name": "Línea de vida", "language_code": "es"}},
		{"getMyDescription", map[string]string{}},
		{"setMyDescription", map[string]string{"description": "Information and support."}},
	})

	// Unchanged names and descriptions are not set again.
	if err := f.a.Setup(context.Background(), nil, names, descs); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	if n := len(f.api.CallsTo("setMyName")); n != 2 {
		t.Errorf("setMyName called %d times in all, want 2", n)
	}
}

func TestSetupErrors(t *testing.T) {
	tests := []struct {
		name     string
		commands map[string][]Command
		names    map[string]string
		want     string
	}{
		{"language tag", map[string][]Command{"pt-BR": {{"menu", "Menu"}}}, nil, "two lowercase letters"},
		{"command with capitals", map[string][]Command{"": {{"Menu", "Menu"}}}, nil, "1-32 of a-z"},
		{"command without description", map[string][]Command{"": {{"menu", " "}}}, nil, "description"},
		{"name too long", nil, map[string]string{"": strings.Repeat("n", 65)}, "64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			err := f.a.Setup(context.Background(), tc.commands, tc.names, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Setup: %v, want an error about %q", err, tc.want)
			}
			if n := len(f.api.Calls()); n != 1 { // getMe only
				t.Errorf("%d calls made for invalid input", n-1)
			}
		})
	}
	// One failure does not stop the rest.
	f := newFixture(t, nil)
	f.api.Respond("setMyName", telegramtest.TooManyRequests(3600))
	err := f.a.Setup(context.Background(), map[string][]Command{"": {{"menu", "Menu"}}}, map[string]string{"": "L"}, map[string]string{"": "D"})
	if err == nil {
		t.Error("Setup hid a failed setMyName")
	}
	if len(f.api.CallsTo("setMyCommands")) != 1 || len(f.api.CallsTo("setMyDescription")) != 1 {
		t.Error("Setup stopped at the first failure")
	}
}

// webhookRequest is a POST of body to the webhook with the secret header
// (none when secret is "-").
func webhookRequest(body, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if secret != "-" {
		r.Header.Set(SecretHeader, secret)
	}
	return r
}

// statusWriter records whether a status was written yet.
type statusWriter struct {
	*httptest.ResponseRecorder
	mu    sync.Mutex
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.mu.Lock()
	w.wrote = true
	w.mu.Unlock()
	w.ResponseRecorder.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.wrote = true
	w.mu.Unlock()
	return w.ResponseRecorder.Write(b)
}

func (w *statusWriter) written() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wrote
}

func TestWebhook(t *testing.T) {
	text := `{"update_id":41,"message":` + msgJSON("private", chatID, `,"text":"help me"`) + `}`
	stale := `{"update_id":42,"callback_query":` + cbJSON("old-format", `,"message":`+msgJSON("private", chatID, `,"text":"menu"`)) + `}`
	group := `{"update_id":43,"message":` + msgJSON("supergroup", groupID, `,"text":"claim"`) + `}`
	tests := []struct {
		name       string
		req        *http.Request
		accept     func(n int, in bot.Inbound) error
		group      bool // set a Group hook
		noRun      bool
		wantStatus int
		wantIn     []bot.Inbound
		wantGroup  int
		wantAnswer bool
	}{
		{name: "good", req: webhookRequest(text, testSecret), wantStatus: 200,
			wantIn: []bot.Inbound{{Channel: "telegram", Address: chatAddr, MessageID: "u41", Text: "help me", PlatformMsg: 77, At: time.Unix(date, 0).UTC()}}},
		{name: "wrong secret", req: webhookRequest(text, testSecret+"x"), wantStatus: 403},
		{name: "secret of other case", req: webhookRequest(text, strings.ToUpper(testSecret)), wantStatus: 403},
		{name: "missing secret", req: webhookRequest(text, "-"), wantStatus: 403},
		{name: "empty secret", req: webhookRequest(text, ""), wantStatus: 403},
		{name: "malformed JSON", req: webhookRequest(`{"update_id":41,"message":`, testSecret), wantStatus: 400},
		{name: "not an update", req: webhookRequest(`{"hello":1}`, testSecret), wantStatus: 400},
		{name: "body over 1 MiB", req: webhookRequest(`{"update_id":41,"x":"`+strings.Repeat("a", 1<<20)+`"}`, testSecret), wantStatus: 413},
		{name: "accept fails", req: webhookRequest(text, testSecret), wantStatus: 503,
			accept: func(int, bot.Inbound) error { return errors.New("redis down") }},
		{name: "accept panics", req: webhookRequest(text, testSecret), wantStatus: 500,
			accept: func(int, bot.Inbound) error { panic("boom") }},
		{name: "not running yet", req: webhookRequest(text, testSecret), noRun: true, wantStatus: 503},
		{name: "stale button answered", req: webhookRequest(stale, testSecret), wantStatus: 200, wantAnswer: true,
			wantIn: []bot.Inbound{{Channel: "telegram", Address: chatAddr, MessageID: "u42", Choice: "?", Prompt: -1, At: clock}}},
		{name: "group without hook ignored", req: webhookRequest(group, testSecret), wantStatus: 200},
		{name: "group to hook", req: webhookRequest(group, testSecret), group: true, wantStatus: 200, wantGroup: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				c.WebhookURL = "https://lifeline.example.org/telegram/webhook"
				c.WebhookSecret = testSecret
			})
			f.private = append(f.private, "help me", "claim")
			f.a.now = func() time.Time { return clock }
			w := &statusWriter{ResponseRecorder: httptest.NewRecorder()}
			rec := bottest.NewReceiver(func(n int, in bot.Inbound) error {
				if w.written() {
					t.Error("answered before Accept returned")
				}
				if tc.accept != nil {
					return tc.accept(n, in)
				}
				return nil
			})
			var groups []int64
			if tc.group {
				f.a.Group = func(_ context.Context, u *models.Update) error {
					groups = append(groups, u.ID)
					return nil
				}
			}
			if !tc.noRun {
				f.run(t, rec)
				waitFor(t, "setWebhook", func() bool { return len(f.api.CallsTo("setWebhook")) == 1 })
			}
			mux := http.NewServeMux()
			f.a.Register(mux)
			mux.ServeHTTP(w, tc.req)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if got := rec.Accepted(); !slices.Equal(got, tc.wantIn) {
				t.Errorf("accepted %+v, want %+v", got, tc.wantIn)
			}
			if len(groups) != tc.wantGroup {
				t.Errorf("Group hook got %d updates, want %d", len(groups), tc.wantGroup)
			}
			if n := len(f.api.CallsTo("answerCallbackQuery")); (n == 1) != tc.wantAnswer {
				t.Errorf("%d answerCallbackQuery calls", n)
			}
			if tc.noRun {
				return
			}
			sw := f.api.CallsTo("setWebhook")[0]
			want := map[string]string{
				"url":             "https://lifeline.example.org/telegram/webhook",
				"secret_token":    testSecret,
				"allowed_updates": `["message","callback_query","my_chat_member"]`,
			}
			if !mapsEqual(sw.Params, want) {
				t.Errorf("setWebhook %q, want %q", sw.Params, want)
			}
		})
	}
}

func TestWebhookOnlyPOST(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.WebhookURL = "https://lifeline.example.org/telegram/webhook"
		c.WebhookSecret = testSecret
	})
	mux := http.NewServeMux()
	f.a.Register(mux)
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, WebhookPath, nil)
	r.Header.Set(SecretHeader, testSecret)
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", w.Code)
	}
}

func TestWebhookRefusedWhenPolling(t *testing.T) {
	f := newFixture(t, nil) // no webhook secret configured
	f.run(t, bottest.NewReceiver(nil))
	mux := http.NewServeMux()
	f.a.Register(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, webhookRequest(`{"update_id":1}`, ""))
	if w.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403", w.Code)
	}
}
