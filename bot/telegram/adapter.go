package telegram

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot"
)

// Defaults for Config's zero fields.
const (
	DefaultAPIURL         = "https://api.telegram.org"
	DefaultGlobalRate     = 30 // messages per second, all chats
	DefaultPerChatRate    = 1  // messages per second, one chat
	DefaultGroupPerMinute = 20 // messages per minute, one group
	DefaultPollTimeout    = 50 * time.Second
	DefaultEphemeralDelay = 3 * time.Second
)

// WebhookPath is where Register serves Telegram's webhook calls.
const WebhookPath = "/telegram/webhook"

// SecretHeader carries the webhook secret token on Telegram's calls.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// maxWebhookBody caps an update's size; real ones are a few KiB.
const maxWebhookBody = 1 << 20

// allowedUpdates are the update kinds Lifeline asks Telegram for:
// my_chat_member tells when a person blocks or unblocks the bot (Member).
var allowedUpdates = []string{models.AllowedUpdateMessage, models.AllowedUpdateCallbackQuery, models.AllowedUpdateMyChatMember}

var secretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// Config configures the adapter.
type Config struct {
	// Token is the bot's token from @BotFather.
	Token string
	// APIURL is the Bot API server (DefaultAPIURL, a self-hosted one, or
	// a fake in tests).
	APIURL string
	// WebhookURL, when set, makes Run register a webhook at this public
	// HTTPS URL (served by Register) instead of long polling.
	WebhookURL string
	// WebhookSecret is the secret_token Telegram sends back with each
	// webhook call: 1-256 of A-Z a-z 0-9 _ -. Required with WebhookURL.
	WebhookSecret string
	// GlobalRate, PerChatRate and GroupPerMinute are Telegram's send
	// limits (defaults 30/s, 1/s per chat, 20/min per group).
	GlobalRate     float64
	PerChatRate    float64
	GroupPerMinute float64
	// PollTimeout is how long one getUpdates call waits for updates
	// (default 50s). The HTTP client's timeout is set longer.
	PollTimeout time.Duration
	// EphemeralDelay is how long an ephemeral message stays (default 3s).
	EphemeralDelay time.Duration
}

// GroupFunc handles an update from a group or supergroup chat, such as the
// coaches' chat. An error asks for the update again, as Receiver.Accept's.
type GroupFunc func(ctx context.Context, update *models.Update) error

// MemberFunc hears, from a my_chat_member update, that the person at
// address blocked the bot (reachable false) or unblocked it (true); update
// is the update_id, later for a later change. It must record this durably
// before it returns nil: an error asks for the update again, as
// Receiver.Accept's, and a repeat must change nothing.
type MemberFunc func(ctx context.Context, address string, update int64, reachable bool) error

// Adapter is the Telegram channel: a bot.Channel and a bot.Clearer.
type Adapter struct {
	// Group, set before Run, receives updates from group and supergroup
	// chats (messages, and presses of buttons on messages there); their
	// button presses are answered for it. Nil ignores group chats.
	Group GroupFunc
	// OnMember, set before Run, records a person blocking or unblocking
	// the bot. Nil ignores these updates.
	OnMember MemberFunc
	// OnWait, set before Run, hears how long each call waited for the
	// rate limiter (for metrics).
	OnWait func(time.Duration)

	cfg   Config
	log   *slog.Logger
	tg    *tgbot.Bot
	limit *bot.Limiter
	gate  *pollGate
	now   func() time.Time

	recv    atomic.Pointer[bot.Receiver]
	running atomic.Bool

	// Ephemeral messages wait in goroutines to be deleted; when Run ends
	// they are deleted at once and Run waits for them.
	ephMu     sync.Mutex
	ephemeral sync.WaitGroup
	stopped   chan struct{}
	stopOnce  sync.Once
}

// New checks cfg, fills in defaults and checks the token with getMe.
func New(cfg Config, logger *slog.Logger) (*Adapter, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("telegram: no bot token")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if u, err := url.Parse(cfg.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("telegram: API URL %q is not an http(s) URL", cfg.APIURL)
	}
	if cfg.WebhookURL != "" {
		if u, err := url.Parse(cfg.WebhookURL); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, errors.New("telegram: webhook URL must be an https URL")
		}
		if cfg.WebhookSecret == "" {
			return nil, errors.New("telegram: a webhook needs a secret token")
		}
	}
	if cfg.WebhookSecret != "" && !secretPattern.MatchString(cfg.WebhookSecret) {
		return nil, errors.New("telegram: webhook secret token must be 1-256 of A-Z a-z 0-9 _ -")
	}
	for _, r := range []*float64{&cfg.GlobalRate, &cfg.PerChatRate, &cfg.GroupPerMinute} {
		if *r < 0 {
			return nil, errors.New("telegram: rates must not be negative")
		}
	}
	if cfg.GlobalRate == 0 {
		cfg.GlobalRate = DefaultGlobalRate
	}
	if cfg.PerChatRate == 0 {
		cfg.PerChatRate = DefaultPerChatRate
	}
	if cfg.GroupPerMinute == 0 {
		cfg.GroupPerMinute = DefaultGroupPerMinute
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = DefaultPollTimeout
	}
	if cfg.PollTimeout < 2*time.Second {
		// The library asks Telegram for PollTimeout less a second.
		cfg.PollTimeout = 2 * time.Second
	}
	if cfg.EphemeralDelay <= 0 {
		cfg.EphemeralDelay = DefaultEphemeralDelay
	}

	a := &Adapter{
		cfg: cfg,
		log: logger.With("channel", Name),
		limit: bot.NewLimiter(bot.Limits{
			Global:         cfg.GlobalRate,
			PerKey:         cfg.PerChatRate,
			GroupPerMinute: cfg.GroupPerMinute,
			IsGroup:        func(address string) bool { return strings.HasPrefix(address, "-") },
		}),
		gate:    newPollGate(),
		now:     time.Now,
		stopped: make(chan struct{}),
	}
	// Library trap: its default client's timeout equals the poll timeout,
	// so an idle long poll can be cut off as a failure. Give it headroom.
	client := &gatedClient{
		inner: &http.Client{Timeout: cfg.PollTimeout + 15*time.Second},
		gate:  a.gate,
	}
	b, err := tgbot.New(cfg.Token,
		tgbot.WithServerURL(cfg.APIURL),
		tgbot.WithHTTPClient(cfg.PollTimeout, client),
		tgbot.WithCheckInitTimeout(10*time.Second),
		// One update at a time, in order, handed over unbuffered: see
		// gatedClient for what that buys.
		tgbot.WithNotAsyncHandlers(),
		tgbot.WithWorkers(1),
		tgbot.WithUpdatesChannelCap(0),
		tgbot.WithAllowedUpdates(allowedUpdates),
		tgbot.WithDefaultHandler(a.onPolled),
		tgbot.WithErrorsHandler(func(err error) {
			a.log.Warn("telegram client error", "error", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	a.tg = b
	return a, nil
}

// Name returns "telegram".
func (a *Adapter) Name() string { return Name }

// Bind sets the receiver before Run starts, so webhook calls that arrive
// between the server starting to listen and Run are accepted, not 503'd.
func (a *Adapter) Bind(in bot.Receiver) {
	if in != nil {
		a.recv.Store(&in)
	}
}

// Run receives updates until ctx ends and hands them to in. With a webhook
// URL it registers the webhook and waits (Register serves the calls);
// otherwise it long-polls. Run may be called once.
func (a *Adapter) Run(ctx context.Context, in bot.Receiver) error {
	if in == nil {
		return errors.New("telegram: Run needs a receiver")
	}
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("telegram: Run called twice")
	}
	a.recv.Store(&in)
	defer a.recv.Store(nil)
	defer a.flushEphemeral()

	if a.cfg.WebhookURL != "" {
		_, err := a.tg.SetWebhook(ctx, &tgbot.SetWebhookParams{
			URL:            a.cfg.WebhookURL,
			SecretToken:    a.cfg.WebhookSecret,
			AllowedUpdates: allowedUpdates,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil // shut down while starting
			}
			return fmt.Errorf("telegram: set webhook: %w", err)
		}
		a.log.Info("telegram webhook set", "path", WebhookPath)
		<-ctx.Done()
		return nil
	}

	// A webhook left by an earlier deployment makes getUpdates fail.
	// Pending updates stay queued at Telegram.
	if _, err := a.tg.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil {
		a.log.Warn("telegram delete webhook failed", "error", err)
	}
	a.gate.reset()
	a.log.Info("telegram long polling started")
	a.tg.Start(ctx)
	return nil
}

// Register serves Telegram's webhook calls at POST WebhookPath on mux. It
// checks the secret token (403 when wrong or missing), caps the body (413),
// rejects malformed updates (400), and answers 200 only once the runtime
// has recorded the update: on 503 Telegram retries, and a redelivered
// update is recognised by its id. Until Run starts it answers 503.
func (a *Adapter) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+WebhookPath, a.serveWebhook)
}

func (a *Adapter) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if !a.secretOK(r.Header.Get(SecretHeader)) {
		a.log.Warn("telegram webhook refused", "reason", "secret token wrong or missing", "status", http.StatusForbidden)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.log.Warn("telegram webhook refused", "reason", "body too large", "status", http.StatusRequestEntityTooLarge)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var u models.Update
	if err := json.Unmarshal(body, &u); err != nil || u.ID <= 0 {
		a.log.Warn("telegram webhook refused", "reason", "malformed update", "status", http.StatusBadRequest)
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	switch err := a.process(r.Context(), &u, false); {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, errPanicked):
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		a.log.Warn("telegram update not accepted", "update_id", u.ID, "error", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
	}
}

// secretOK compares the header with the secret in constant time; hashing
// first hides the secret's length too. No secret configured refuses all.
func (a *Adapter) secretOK(got string) bool {
	if a.cfg.WebhookSecret == "" || got == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.cfg.WebhookSecret))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

var (
	errPanicked   = errors.New("telegram: update handler panicked")
	errNotRunning = errors.New("telegram: not running, no receiver yet")
)

// onPolled handles one update from long polling. Library trap: it moves
// its offset past an update as soon as the update is queued, and the next
// getUpdates call tells Telegram to forget it, handled or not. So here
// updates are handed over one at a time (unbuffered, one worker, not
// async), Accept is retried until it succeeds, and gatedClient holds the
// next getUpdates call back until every update of the last batch has
// returned from here. A crash therefore cannot lose an update Telegram
// gave us: at worst Telegram sends it again and the runtime's MessageID
// check drops the repeat. What can still be lost: an update whose handling
// panicked (logged with its update_id, then dropped so that it cannot block
// the chat forever), updates Normalize ignores or that arrive while Group
// is nil, and updates Telegram itself drops after keeping them 24 hours
// while no process polls.
func (a *Adapter) onPolled(ctx context.Context, _ *tgbot.Bot, u *models.Update) {
	defer a.gate.done()
	if err := a.process(ctx, u, true); err != nil && !errors.Is(err, errPanicked) {
		a.log.Info("telegram update left unconfirmed at shutdown", "update_id", updateID(u), "error", err)
	}
}

// process delivers u to the runtime (or the Group hook), retrying until ctx
// ends if retry is set, and answers its button press if it is one.
func (a *Adapter) process(ctx context.Context, u *models.Update, retry bool) error {
	answered := a.answerCallback(ctx, u)
	defer answered()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := a.deliver(ctx, u)
		if err == nil || !retry || errors.Is(err, errPanicked) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		a.log.Warn("telegram update not accepted, retrying", "update_id", updateID(u), "attempt", attempt, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// deliver hands u to the Group hook or the receiver, once. A panic becomes
// errPanicked.
func (a *Adapter) deliver(ctx context.Context, u *models.Update) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("telegram update handler panicked", "update_id", updateID(u), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errPanicked
		}
	}()
	switch ChatType(u) {
	case models.ChatTypeGroup, models.ChatTypeSupergroup:
		if a.Group == nil {
			return nil
		}
		return a.Group(ctx, u)
	}
	if u.MyChatMember != nil {
		return a.member(ctx, u)
	}
	in, ok := Normalize(u)
	if !ok {
		if u.CallbackQuery != nil {
			// Answered (process), and nothing else: the press is not the
			// presser's to act on. Ids only in the log.
			a.log.Warn("button press not in the presser's own chat; ignored", "event", "callback_refused", "update_id", u.ID, "chat_type", string(ChatType(u)))
		}
		return nil
	}
	if in.At.IsZero() {
		in.At = a.now().UTC()
	}
	r := a.recv.Load()
	if r == nil {
		return errNotRunning
	}
	return (*r).Accept(ctx, in)
}

// member hands a person's blocking or unblocking of the bot to OnMember.
func (a *Adapter) member(ctx context.Context, u *models.Update) error {
	addr, reachable, ok := Member(u)
	if !ok || a.OnMember == nil {
		return nil
	}
	if err := a.OnMember(ctx, addr, u.ID, reachable); err != nil {
		return err
	}
	event := "telegram_blocked"
	if reachable {
		event = "telegram_unblocked"
	}
	a.log.Info("person blocked or unblocked the bot", "event", event, "update_id", u.ID)
	return nil
}

// answerCallback answers a button press at once, in the background (the
// person's button shows a spinner until then), and returns a function that
// waits for it. Every press is answered, stale and unknown ones too; a
// failure is only logged (a repeat of a press already answered fails).
func (a *Adapter) answerCallback(ctx context.Context, u *models.Update) (wait func()) {
	if u == nil || u.CallbackQuery == nil {
		return func() {}
	}
	id := u.CallbackQuery.ID
	done := make(chan struct{})
	go func() {
		defer close(done)
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := a.tg.AnswerCallbackQuery(actx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: id}); err != nil {
			a.log.Info("telegram answer button press failed", "update_id", u.ID, "error", err)
		}
	}()
	return func() { <-done }
}

func updateID(u *models.Update) int64 {
	if u == nil {
		return 0
	}
	return u.ID
}

// gatedClient is the library's HTTP client. It holds each getUpdates call
// back until every update of the previous batch has been handled, so that
// the call's offset never confirms an update still in flight (see
// onPolled).
type gatedClient struct {
	inner *http.Client
	gate  *pollGate
}

// Do sends req, gating getUpdates calls.
func (c *gatedClient) Do(req *http.Request) (*http.Response, error) {
	if path.Base(req.URL.Path) != "getUpdates" {
		return c.inner.Do(req)
	}
	if err := c.gate.wait(req.Context()); err != nil {
		return nil, err
	}
	resp, err := c.inner.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	// Decoded as the library decodes it: if this fails, so does the
	// library, and no update is handed over.
	var r struct {
		OK     bool             `json:"ok"`
		Result []*models.Update `json:"result"`
	}
	if json.Unmarshal(body, &r) == nil && r.OK {
		c.gate.add(len(r.Result))
	}
	return resp, nil
}

// pollGate counts updates fetched but not yet handled.
type pollGate struct {
	mu      sync.Mutex
	pending int
	idle    chan struct{} // closed while pending is 0
}

func newPollGate() *pollGate {
	g := &pollGate{idle: make(chan struct{})}
	close(g.idle)
	return g
}

func (g *pollGate) add(n int) {
	if n <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending == 0 {
		g.idle = make(chan struct{})
	}
	g.pending += n
}

func (g *pollGate) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending == 0 {
		return
	}
	g.pending--
	if g.pending == 0 {
		close(g.idle)
	}
}

func (g *pollGate) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending > 0 {
		g.pending = 0
		close(g.idle)
	}
}

func (g *pollGate) wait(ctx context.Context) error {
	g.mu.Lock()
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
