package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// BotID is the fake bot's user id (getMe).
const BotID = 424242

// Call is one request the bot made.
type Call struct {
	Method string
	// Params holds each parameter as sent: strings as they are, other
	// values as JSON text (how the Bot API takes them).
	Params map[string]string
	At     time.Time
}

// Decode unmarshals the JSON-valued parameter name into v.
func (c Call) Decode(name string, v any) error {
	p, ok := c.Params[name]
	if !ok {
		return fmt.Errorf("%s: no parameter %q", c.Method, name)
	}
	return json.Unmarshal([]byte(p), v)
}

// Response is a scripted answer to one call.
type Response struct {
	// ErrorCode and Description make an error answer ({"ok":false,...});
	// zero ErrorCode answers {"ok":true,"result":Result}.
	ErrorCode   int
	Description string
	// RetryAfter goes into parameters.retry_after (with 429).
	RetryAfter int
	Result     any
	// Disconnect drops the connection without an answer, as a network
	// failure would.
	Disconnect bool
}

// TooManyRequests is Telegram's flood-control answer.
func TooManyRequests(retryAfter int) Response {
	return Response{ErrorCode: 429, Description: "Too Many Requests: retry after " + strconv.Itoa(retryAfter), RetryAfter: retryAfter}
}

// Blocked is the answer when the person blocked the bot.
func Blocked() Response {
	return Response{ErrorCode: 403, Description: "Forbidden: bot was blocked by the user"}
}

// Deactivated is the answer when the person deleted their account.
func Deactivated() Response {
	return Response{ErrorCode: 403, Description: "Forbidden: user is deactivated"}
}

// BadRequest is a 400 answer with Telegram's description.
func BadRequest(description string) Response {
	return Response{ErrorCode: 400, Description: "Bad Request: " + description}
}

// ServerError is a 500 answer.
func ServerError() Response {
	return Response{ErrorCode: 500, Description: "Internal Server Error"}
}

// Disconnect drops the connection without an answer.
func Disconnect() Response { return Response{Disconnect: true} }

// Button is an inline keyboard button the bot sent.
type Button struct {
	Text string
	Data string
}

// Message is a message in a chat, as the person's phone would show it.
type Message struct {
	ID   int
	Chat int64
	// FromPerson marks the person's own messages (queued updates); the
	// rest the bot sent.
	FromPerson bool
	Text       string
	Buttons    []Button
	Deleted    bool
	// Undeletable messages fail to delete, as those over 48 hours old do.
	Undeletable bool
	At          time.Time
}

// Server is a fake Bot API server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, for the adapter's APIURL.
	URL string

	srv *httptest.Server

	mu        sync.Mutex
	calls     []Call
	scripts   map[string][]Response
	updates   []json.RawMessage // queued, in update_id order
	updateIDs []int64
	confirmed int64 // highest offset a getUpdates call confirmed
	nextUpd   int64
	nextMsg   int
	msgs      map[int64][]*Message
	// about holds what setMyName and setMyDescription set, by
	// "name/<language>" and "description/<language>".
	about     map[string]string
	wake      chan struct{} // closed when an update is queued
	closed    chan struct{}
	closeOnce sync.Once
}

// NewServer starts a fake and stops it when the test ends; it then checks
// the recorded calls against the Bot API spec (CheckSpec) and fails the
// test if a scripted answer (Respond) was never used.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		scripts: map[string][]Response{},
		nextUpd: 100000,
		nextMsg: 1000,
		msgs:    map[int64][]*Message{},
		about:   map[string]string{},
		wake:    make(chan struct{}),
		closed:  make(chan struct{}),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.Close()
		s.CheckSpec(t)
		s.mu.Lock()
		defer s.mu.Unlock()
		for method, rs := range s.scripts {
			if len(rs) > 0 {
				t.Errorf("telegramtest: %d scripted answers to %s never used", len(rs), method)
			}
		}
	})
	return s
}

// Close stops the server; later calls fail as on a network error. Long
// polls in progress end at once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Respond scripts the answers to the next calls of method, in order;
// after them the method answers normally again.
func (s *Server) Respond(method string, rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[method] = append(s.scripts[method], rs...)
}

// Calls returns every call so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsTo returns the calls of method, in order.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the messages in chat, both ways, oldest first, deleted
// ones marked.
func (s *Server) Messages(chat int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.msgs[chat]))
	for _, m := range s.msgs[chat] {
		out = append(out, *m)
	}
	return out
}

// BotSaid returns the texts the bot sent to chat, deleted or not, oldest
// first.
func (s *Server) BotSaid(chat int64) []string {
	var out []string
	for _, m := range s.Messages(chat) {
		if !m.FromPerson {
			out = append(out, m.Text)
		}
	}
	return out
}

// Offers reports whether the bot's newest message in chat still shown
// (not deleted) carries a button labelled label.
func (s *Server) Offers(chat int64, label string) bool {
	msgs := s.Messages(chat)
	for i := len(msgs) - 1; i >= 0; i-- {
		if !msgs[i].FromPerson && !msgs[i].Deleted {
			return slices.ContainsFunc(msgs[i].Buttons, func(b Button) bool { return b.Text == label })
		}
	}
	return false
}

// Confirmed returns the highest offset a getUpdates call has confirmed:
// every update below it is gone from the queue for good.
func (s *Server) Confirmed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed
}

// Queue adds updates for getUpdates, giving each without an update_id the
// next one, and each message a message id in its chat. It returns the
// update ids.
func (s *Server) Queue(updates ...*models.Update) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(updates))
	for _, u := range updates {
		b := s.record(u)
		s.updates = append(s.updates, b)
		s.updateIDs = append(s.updateIDs, u.ID)
		ids = append(ids, u.ID)
	}
	close(s.wake)
	s.wake = make(chan struct{})
	return ids
}

// record gives u its ids, notes its message in the chat and returns it as
// JSON. s.mu is held.
func (s *Server) record(u *models.Update) []byte {
	if m := u.Message; m != nil {
		s.nextMsg++
		m.ID = s.nextMsg
		s.msgs[m.Chat.ID] = append(s.msgs[m.Chat.ID], &Message{
			ID: m.ID, Chat: m.Chat.ID, FromPerson: true, Text: m.Text, At: time.Unix(int64(m.Date), 0),
		})
	}
	if u.ID == 0 {
		s.nextUpd++
		u.ID = s.nextUpd
	} else if u.ID > s.nextUpd {
		s.nextUpd = u.ID
	}
	b, err := json.Marshal(u)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: marshal update: %v", err))
	}
	return b
}

// WebhookRequest is Telegram's webhook call delivering u (given ids as by
// Queue), with the secret token header unless secret is empty. Serve it
// with the mux the adapter registered on.
func (s *Server) WebhookRequest(u *models.Update, secret string) *http.Request {
	s.mu.Lock()
	b := s.record(u)
	s.mu.Unlock()
	r := httptest.NewRequest(http.MethodPost, "/telegram/webhook", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	if secret != "" {
		r.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	return r
}

// Type queues a text message from the person in private chat.
func (s *Server) Type(chat int64, text string) int64 {
	return s.Queue(TextUpdate(chat, text))[0]
}

// Press queues a press of the button labelled label on the newest message
// to chat that has one. It fails the test if there is none.
func (s *Server) Press(t testing.TB, chat int64, label string) int64 {
	t.Helper()
	s.mu.Lock()
	var found *Message
	var data string
	for i := len(s.msgs[chat]) - 1; i >= 0 && found == nil; i-- {
		if s.msgs[chat][i].Deleted || s.msgs[chat][i].FromPerson {
			continue
		}
		for _, b := range s.msgs[chat][i].Buttons {
			if b.Text == label {
				found, data = s.msgs[chat][i], b.Data
				break
			}
		}
	}
	s.mu.Unlock()
	if found == nil {
		t.Fatalf("telegramtest: no button %q in chat", label)
		return 0
	}
	return s.Queue(CallbackUpdate(chat, found.ID, data))[0]
}

// MakeUndeletable makes messages in chat fail to delete, as Telegram's
// do once they are 48 hours old: deleteMessage answers 400, and so does
// deleteMessages when one of its ids is such a message.
func (s *Server) MakeUndeletable(chat int64, ids ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs[chat] {
		if slices.Contains(ids, m.ID) {
			m.Undeletable = true
		}
	}
}

// TextUpdate is a text message from a person in their private chat with
// the bot. The chat id is also the person's user id, as on Telegram.
func TextUpdate(chat int64, text string) *models.Update {
	m := message(chat, models.ChatTypePrivate)
	m.Text = text
	if strings.HasPrefix(text, "/") {
		n := strings.IndexAny(text, " \n")
		if n < 0 {
			n = len(text)
		}
		m.Entities = []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: 0, Length: n}}
	}
	return &models.Update{Message: m}
}

// CallbackUpdate is a press of an inline button with data, on the bot's
// message msgID in a private chat.
func CallbackUpdate(chat int64, msgID int, data string) *models.Update {
	m := message(chat, models.ChatTypePrivate)
	m.ID = msgID
	m.From = &models.User{ID: BotID, IsBot: true, FirstName: "Bot"}
	return &models.Update{CallbackQuery: &models.CallbackQuery{
		ID:           "cq" + strconv.FormatInt(time.Now().UnixNano(), 36),
		From:         models.User{ID: chat, FirstName: "P"},
		Message:      models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: m},
		ChatInstance: "ci",
		Data:         data,
	}}
}

// PhotoUpdate is a photo from the person in private chat.
func PhotoUpdate(chat int64) *models.Update {
	m := message(chat, models.ChatTypePrivate)
	m.Photo = []models.PhotoSize{{FileID: "f", FileUniqueID: "u", Width: 90, Height: 90}}
	return &models.Update{Message: m}
}

// GroupTextUpdate is a text message in a group chat.
func GroupTextUpdate(group, from int64, text string) *models.Update {
	m := message(group, models.ChatTypeSupergroup)
	m.From = &models.User{ID: from, FirstName: "C"}
	m.Chat.Title = "Coaches"
	m.Text = text
	return &models.Update{Message: m}
}

// message is a message in chat; Queue gives it its id.
func message(chat int64, typ models.ChatType) *models.Message {
	return &models.Message{
		ID:   1,
		From: &models.User{ID: chat, FirstName: "P"},
		Date: int(time.Now().Unix()),
		Chat: models.Chat{ID: chat, Type: typ},
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method, ok := methodOf(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeJSON(w, Response{ErrorCode: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	call := Call{Method: method, Params: params, At: time.Now()}

	s.mu.Lock()
	s.calls = append(s.calls, call)
	var scripted *Response
	if rs := s.scripts[method]; len(rs) > 0 {
		scripted = &rs[0]
		s.scripts[method] = rs[1:]
	}
	s.mu.Unlock()

	if scripted != nil {
		if scripted.Disconnect {
			disconnect(w)
			return
		}
		writeJSON(w, *scripted)
		return
	}
	writeJSON(w, s.answer(r, call))
}

// methodOf takes the method from /bot<token>/<method>.
func methodOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/bot")
	if !ok {
		return "", false
	}
	_, method, ok := strings.Cut(rest, "/")
	if !ok || method == "" || strings.Contains(method, "/") {
		return "", false
	}
	return method, true
}

// readParams reads the parameters the way the Bot API does: from the
// query string and from a JSON, urlencoded or multipart body.
func readParams(r *http.Request) (map[string]string, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("body is not a JSON object: %w", err)
		}
		for k, v := range obj {
			var s string
			if json.Unmarshal(v, &s) == nil {
				params[k] = s
			} else {
				params[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k, v := range vals {
			params[k] = v[0]
		}
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), ctParams["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("multipart: %w", err)
			}
			v, err := io.ReadAll(p)
			if err != nil {
				return nil, err
			}
			params[p.FormName()] = string(v)
		}
	default:
		return nil, fmt.Errorf("unsupported content type %q", ct)
	}
	return params, nil
}

// answer is the normal answer to call.
func (s *Server) answer(r *http.Request, c Call) Response {
	ok := Response{Result: true}
	switch c.Method {
	case "getMe":
		return Response{Result: models.User{ID: BotID, IsBot: true, FirstName: "Lifeline", Username: "lifeline_test_bot"}}
	case "getUpdates":
		return s.getUpdates(r, c)
	case "sendMessage":
		return s.sendMessage(c)
	case "deleteMessage":
		chat, _ := strconv.ParseInt(c.Params["chat_id"], 10, 64)
		id, _ := strconv.Atoi(c.Params["message_id"])
		return s.deleteMessages(chat, []int{id}, true)
	case "deleteMessages":
		chat, _ := strconv.ParseInt(c.Params["chat_id"], 10, 64)
		var ids []int
		if err := c.Decode("message_ids", &ids); err != nil || len(ids) == 0 || len(ids) > 100 {
			return BadRequest("message_ids must be 1-100 message identifiers")
		}
		return s.deleteMessages(chat, ids, false)
	case "setMyName", "setMyDescription":
		field := strings.ToLower(strings.TrimPrefix(c.Method, "setMy"))
		s.mu.Lock()
		s.about[field+"/"+c.Params["language_code"]] = c.Params[field]
		s.mu.Unlock()
		return ok
	case "getMyName":
		return Response{Result: models.BotName{Name: s.aboutBot("name", c.Params["language_code"])}}
	case "getMyDescription":
		return Response{Result: models.BotDescription{Description: s.aboutBot("description", c.Params["language_code"])}}
	case "answerCallbackQuery", "setWebhook", "deleteWebhook", "setMyCommands",
		"setMyShortDescription", "deleteMyCommands", "close", "logOut":
		return ok
	}
	return Response{ErrorCode: 404, Description: "Not Found: method not found"}
}

func (s *Server) getUpdates(r *http.Request, c Call) Response {
	offset, _ := strconv.ParseInt(c.Params["offset"], 10, 64)
	timeout, _ := strconv.Atoi(c.Params["timeout"])
	limit, _ := strconv.Atoi(c.Params["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if offset > 0 {
			if offset > s.confirmed {
				s.confirmed = offset
			}
			i := 0
			for i < len(s.updateIDs) && s.updateIDs[i] < offset {
				i++
			}
			s.updates, s.updateIDs = s.updates[i:], s.updateIDs[i:]
		}
		n := min(limit, len(s.updates))
		batch := slices.Clone(s.updates[:n])
		wake := s.wake
		s.mu.Unlock()
		if n > 0 || timeout <= 0 {
			if batch == nil {
				batch = []json.RawMessage{}
			}
			return Response{Result: batch}
		}
		select {
		case <-wake:
		case <-deadline.C:
			timeout = 0
		case <-r.Context().Done():
			return Response{Result: []json.RawMessage{}}
		case <-s.closed:
			return Response{Result: []json.RawMessage{}}
		}
	}
}

// aboutBot is the bot's name or description (field) in lang, as last set.
func (s *Server) aboutBot(field, lang string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.about[field+"/"+lang]
}

// buttonsOf reads an inline keyboard. Telegram rejects a button that sets
// more than one of its optional fields, so the fake does too.
func buttonsOf(markup string) ([]Button, error) {
	if markup == "" {
		return nil, nil
	}
	var m struct {
		InlineKeyboard [][]map[string]json.RawMessage `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(markup), &m); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	var out []Button
	for _, row := range m.InlineKeyboard {
		for _, b := range row {
			var btn Button
			if err := json.Unmarshal(b["text"], &btn.Text); err != nil || btn.Text == "" {
				return nil, fmt.Errorf("text buttons are unallowed in the inline keyboard")
			}
			if len(b) != 2 || b["callback_data"] == nil {
				return nil, fmt.Errorf("inline keyboard button must have exactly one of its optional fields")
			}
			if err := json.Unmarshal(b["callback_data"], &btn.Data); err != nil || len(btn.Data) < 1 || len(btn.Data) > 64 {
				return nil, fmt.Errorf("BUTTON_DATA_INVALID")
			}
			out = append(out, btn)
		}
	}
	return out, nil
}

func (s *Server) sendMessage(c Call) Response {
	chat, err := strconv.ParseInt(c.Params["chat_id"], 10, 64)
	if err != nil {
		return BadRequest("chat not found")
	}
	text := c.Params["text"]
	if strings.TrimSpace(text) == "" {
		return BadRequest("message text is empty")
	}
	if utf16Len(text) > 4096 {
		return BadRequest("message is too long")
	}
	buttons, err := buttonsOf(c.Params["reply_markup"])
	if err != nil {
		return BadRequest(err.Error())
	}
	s.mu.Lock()
	s.nextMsg++
	m := &Message{ID: s.nextMsg, Chat: chat, Text: text, Buttons: buttons, At: c.At}
	s.msgs[chat] = append(s.msgs[chat], m)
	s.mu.Unlock()
	typ := models.ChatTypePrivate
	if chat < 0 {
		typ = models.ChatTypeSupergroup
	}
	return Response{Result: models.Message{
		ID:   m.ID,
		From: &models.User{ID: BotID, IsBot: true, FirstName: "Lifeline"},
		Date: int(c.At.Unix()),
		Chat: models.Chat{ID: chat, Type: typ},
		Text: text,
	}}
}

// deleteMessages deletes all of ids or none. Missing messages fail
// deleteMessage (one) and are skipped by deleteMessages.
func (s *Server) deleteMessages(chat int64, ids []int, one bool) Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*Message
	for _, m := range s.msgs[chat] {
		if !slices.Contains(ids, m.ID) || m.Deleted {
			continue
		}
		if m.Undeletable {
			return BadRequest("message can't be deleted for everyone")
		}
		found = append(found, m)
	}
	if one && len(found) == 0 {
		return BadRequest("message to delete not found")
	}
	for _, m := range found {
		m.Deleted = true
	}
	return Response{Result: true}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, r Response) {
	body := map[string]any{"ok": r.ErrorCode == 0}
	if r.ErrorCode == 0 {
		body["result"] = r.Result
	} else {
		body["error_code"] = r.ErrorCode
		body["description"] = r.Description
		if r.RetryAfter > 0 {
			body["parameters"] = map[string]int{"retry_after": r.RetryAfter}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if r.ErrorCode != 0 {
		w.WriteHeader(r.ErrorCode)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func disconnect(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("telegramtest: cannot hijack connection")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// ButtonUpdate waits (up to 10 s) for a button in chat whose callback data
// ends with suffix, and returns the update of from pressing it; in a group
// (chat < 0) the press comes from the group. Queue it to press.
func (s *Server) ButtonUpdate(t testing.TB, chat, from int64, suffix string) *models.Update {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range s.Messages(chat) {
			for _, b := range m.Buttons {
				if strings.HasSuffix(b.Data, suffix) {
					u := CallbackUpdate(chat, m.ID, b.Data)
					u.CallbackQuery.From = models.User{ID: from, FirstName: "C"}
					if chat < 0 {
						u.CallbackQuery.Message.Message.Chat.Type = models.ChatTypeSupergroup
					}
					return u
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("telegramtest: no button ending %q in chat %d", suffix, chat)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}
