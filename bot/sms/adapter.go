package sms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/lifeline-org/lifeline/bot"
)

const channelName = "sms"

// DefaultAPIURL is Twilio's REST API, used when Config.APIURL is empty.
const DefaultAPIURL = "https://api.twilio.com"

const (
	// maxSegmentsPerPart keeps each message part to 3 segments: longer
	// concatenated texts arrive out of order or broken on some phones.
	maxSegmentsPerPart = 3
	// requestTimeout bounds one API request when ctx has no earlier deadline.
	requestTimeout = 30 * time.Second
	// maxErrorBody is how much of an error response is read.
	maxErrorBody = 64 << 10
)

// Twilio error codes that say what to do with a person's number.
const (
	codeTooManyRequests = 20429
	codeInvalidTo       = 21211
	codeOptedOut        = 21610
)

// unreachableCodes mean the number cannot receive our texts: unknown or
// unreachable handset (30003, 30005), landline or unreachable carrier
// (30006), invalid number (21211), not a mobile number (21614); on
// WhatsApp, no WhatsApp account at the number (63003, 63024) and the
// person blocked the business (63014), which, like a blocked Telegram
// bot, holds until they write again. Not 63032 (WhatsApp holds the
// number out for an experiment, for a while) nor 63049 (Meta declined a
// marketing template): those pass.
var unreachableCodes = map[int]bool{30003: true, 30005: true, 30006: true, codeInvalidTo: true, 21614: true, 63003: true, 63014: true, 63024: true}

// Config is the SMS channel's configuration.
type Config struct {
	// AccountSID and AuthToken are the Twilio account's credentials. The
	// token also signs Twilio's webhook requests.
	AccountSID string
	AuthToken  string
	// From is the sending number, in E.164. MessagingServiceSID sends
	// through a Messaging Service instead (or as well). One is required.
	// A From of "whatsapp:+<E.164>" makes the adapter the WhatsApp
	// channel instead (see whatsapp.go).
	From                string
	MessagingServiceSID string
	// APIURL (env TWILIO_API_URL) replaces Twilio's API base URL, for tests
	// or an egress proxy. Empty means DefaultAPIURL.
	APIURL string
	// PublicURL is this service's base URL as Twilio calls it, such as
	// https://lifeline.example.org. Webhook signatures are checked against
	// it, and delivery reports are asked for at PublicURL/sms/status.
	// Empty: the URL is taken from the request, and no reports are asked for.
	PublicURL string
	// MPS is the most messages to send per second (default 1, a long
	// code's rate).
	MPS float64
	// Templates are the WhatsApp channel's Content templates, for
	// messages Lifeline starts outside the 24-hour window. Ignored on SMS.
	Templates Templates
}

// Adapter is the SMS channel. It implements bot.Channel.
type Adapter struct {
	// OnStatus, when set, hears of a number that failed for good:
	// unreachable (dead, landline, invalid) or opted out at the carrier.
	// address is in E.164, as in bot.Inbound. Set it before the webhooks
	// are served; it is called on the webhook's goroutine.
	OnStatus func(ctx context.Context, address string, unreachable, optedOut bool)
	// OnWait, when set, hears how long each send waited for the rate
	// limiter (for metrics).
	OnWait func(time.Duration)
	// OnSkip, when set, hears of each message the WhatsApp channel did
	// not send for want of a template (for metrics; see Skipped).
	OnSkip func(purpose string)

	cfg       Config
	whatsapp  bool // From is a whatsapp: address
	skipped   atomic.Int64
	log       *slog.Logger
	now       func() time.Time
	apiURL    *url.URL // nil: leave twilio-go's URL alone
	publicURL string
	transport http.RoundTripper
	limiter   *limiter

	mu       sync.Mutex
	receiver bot.Receiver
	keywords map[string]time.Time // address -> last carrier keyword
	swept    time.Time
}

// Option changes a default of New.
type Option func(*Adapter)

// WithClock makes the adapter read the time from now (tests).
func WithClock(now func() time.Time) Option {
	return func(a *Adapter) { a.now = now }
}

// WithTransport sends API requests through rt instead of
// http.DefaultTransport.
func WithTransport(rt http.RoundTripper) Option {
	return func(a *Adapter) { a.transport = rt }
}

// New checks cfg and returns the SMS channel. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Adapter, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" {
		return nil, errors.New("sms: Twilio account SID and auth token are required")
	}
	// twilio-go refuses credentials with other characters at send time.
	if !isAlnum(cfg.AccountSID) || !isAlnum(cfg.AuthToken) {
		return nil, errors.New("sms: Twilio account SID and auth token must be letters and digits")
	}
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		return nil, errors.New("sms: a From number or a messaging service SID is required")
	}
	wa := strings.HasPrefix(cfg.From, WhatsAppPrefix)
	if wa {
		if n, err := NormalizeE164(strings.TrimPrefix(cfg.From, WhatsAppPrefix)); err != nil || WhatsAppPrefix+n != cfg.From {
			return nil, errors.New("whatsapp: the sender must be whatsapp:+ and a number in E.164")
		}
		if cfg.MessagingServiceSID != "" {
			return nil, errors.New("whatsapp: send from the whatsapp: number, not a messaging service")
		}
	}
	if math.IsNaN(cfg.MPS) || math.IsInf(cfg.MPS, 0) || cfg.MPS < 0 {
		return nil, fmt.Errorf("sms: messages per second must be a positive number, not %v", cfg.MPS)
	}
	if cfg.MPS == 0 {
		cfg.MPS = 1
	}
	a := &Adapter{
		cfg:       cfg,
		log:       logger,
		now:       time.Now,
		transport: http.DefaultTransport,
		limiter:   &limiter{interval: time.Duration(float64(time.Second) / cfg.MPS)},
		keywords:  map[string]time.Time{},
		whatsapp:  wa,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if cfg.APIURL != "" {
		u, err := parseBaseURL(cfg.APIURL)
		if err != nil {
			return nil, fmt.Errorf("sms: Twilio API URL: %w", err)
		}
		a.apiURL = u
	}
	if cfg.PublicURL != "" {
		u, err := parseBaseURL(cfg.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("sms: public URL: %w", err)
		}
		a.publicURL = strings.TrimRight(u.String(), "/")
	}
	for _, o := range opts {
		o(a)
	}
	return a, nil
}

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("want an absolute http(s) URL without query")
	}
	return u, nil
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// Name is "sms", or "whatsapp" for the WhatsApp channel.
func (a *Adapter) Name() string {
	if a.whatsapp {
		return whatsAppChannel
	}
	return channelName
}

// Run hands texts from the webhook to in until ctx ends. SMS arrives by
// webhook only, so Run just holds the receiver; while it is not running
// the webhook answers 503 (see Register on Twilio's retries).
func (a *Adapter) Run(ctx context.Context, in bot.Receiver) error {
	a.mu.Lock()
	a.receiver = in
	a.mu.Unlock()
	<-ctx.Done()
	a.mu.Lock()
	a.receiver = nil
	a.mu.Unlock()
	return nil
}

// Bind sets the receiver before Run starts, so webhooks that arrive
// between the server starting to listen and Run are accepted, not 503'd.
func (a *Adapter) Bind(in bot.Receiver) {
	a.mu.Lock()
	a.receiver = in
	a.mu.Unlock()
}

func (a *Adapter) currentReceiver() bot.Receiver {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.receiver
}

// Send texts msg to address (E.164), its options as a numbered list. Text
// longer than 3 segments goes as several messages, cut between words. It
// returns 0, as an SMS cannot be deleted, or a *bot.SendError.
//
// A reply to a carrier keyword (STOP, START...) is dropped: see
// IsCarrierKeyword. If a later part of a long text fails, a retry sends
// the earlier parts again. Ephemeral is ignored: a text cannot be taken
// back.
func (a *Adapter) Send(ctx context.Context, address string, msg bot.Outbound) (int64, error) {
	to, err := NormalizeE164(address)
	if err != nil {
		return 0, &bot.SendError{Unreachable: true, Code: codeInvalidTo, Err: err}
	}
	if a.whatsapp {
		return 0, a.sendWhatsApp(ctx, to, msg)
	}
	if a.suppressed(to) {
		a.log.Info("sms reply dropped: twilio answered a carrier keyword")
		return 0, nil
	}
	text := render(msg)
	if strings.TrimSpace(text) == "" {
		a.log.Warn("sms send skipped: empty message")
		return 0, nil
	}
	return 0, a.sendParts(ctx, to, text, maxSegmentsPerPart)
}

// sendParts sends text to to in parts of at most maxSegments segments,
// each after waiting for the rate limiter.
func (a *Adapter) sendParts(ctx context.Context, to, text string, maxSegments int) error {
	parts := Split(text, maxSegments)
	for i, part := range parts {
		waitStart := time.Now()
		if err := a.limiter.wait(ctx); err != nil {
			return &bot.SendError{Retryable: true, Err: err}
		}
		if a.OnWait != nil {
			a.OnWait(time.Since(waitStart))
		}
		if se := a.sendPart(ctx, to, part); se != nil {
			if !se.Retryable && !se.Unreachable && !se.OptedOut {
				a.log.Warn(a.Name()+" send rejected", "code", se.Code, "part", i, "parts", len(parts), "error", se.Err)
			}
			return se
		}
	}
	return nil
}

// render is the text of msg with its options as a numbered list:
// "text\n1 Label\n2 Label".
func render(msg bot.Outbound) string {
	var b strings.Builder
	b.WriteString(msg.Text)
	for i, o := range msg.Options {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteByte(' ')
		b.WriteString(o.Label)
	}
	return b.String()
}

func (a *Adapter) sendPart(ctx context.Context, to, body string) *bot.SendError {
	params := a.params(to)
	params.SetBody(body)
	return a.create(ctx, params)
}

// params are a message's parameters to to (E.164) but its content: the
// sender, and the status callback.
func (a *Adapter) params(to string) *openapi.CreateMessageParams {
	params := &openapi.CreateMessageParams{}
	if a.whatsapp {
		to = WhatsAppPrefix + to
	}
	params.SetTo(to)
	if a.cfg.From != "" {
		params.SetFrom(a.cfg.From)
	}
	if a.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(a.cfg.MessagingServiceSID)
	}
	if a.publicURL != "" {
		path := StatusPath
		if a.whatsapp {
			path = WhatsAppStatusPath
		}
		params.SetStatusCallback(a.publicURL + path)
	}
	return params
}

// create posts one message to the Messages API.
func (a *Adapter) create(ctx context.Context, params *openapi.CreateMessageParams) *bot.SendError {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	t := &apiTransport{ctx: ctx, base: a.transport, apiURL: a.apiURL}
	_, err := a.api(t).CreateMessage(params)
	if err == nil {
		return nil
	}
	if t.status >= 200 && t.status < 300 {
		// Twilio took the message; only its answer was unreadable.
		// Sending again would send it twice.
		a.log.Warn(a.Name()+" sent, but the api response was unreadable", "error", err)
		return nil
	}
	return a.sendError(err, t)
}

// api is a Twilio client whose requests go through t. twilio-go builds its
// requests without a context and has no base URL setting; t adds both.
func (a *Adapter) api(t *apiTransport) *openapi.ApiService {
	c := &client.Client{
		Credentials: client.NewCredentials(a.cfg.AccountSID, a.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport: t,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	c.SetAccountSid(a.cfg.AccountSID)
	return openapi.NewApiServiceWithClient(c)
}

// sendError says what a failed API call means for the next attempt.
func (a *Adapter) sendError(err error, t *apiTransport) *bot.SendError {
	status, code := t.status, 0
	var rest *client.TwilioRestError
	var v1 *client.RestErrorV1
	switch {
	case errors.As(err, &rest):
		code = rest.Code
		if rest.Status != 0 {
			status = rest.Status
		}
	case errors.As(err, &v1):
		code = v1.Code
		if v1.HttpStatusCode != 0 {
			status = v1.HttpStatusCode
		}
	case status == 0:
		// No answer: network failure, timeout or cancelled context.
		return &bot.SendError{Retryable: true, Err: err}
	}
	// Twilio's error message may quote the number: keep status and code.
	se := &bot.SendError{Code: code, Err: &apiError{Status: status, Code: code}}
	switch {
	case code == codeOptedOut:
		se.OptedOut = true
	case unreachableCodes[code]:
		se.Unreachable = true
	case status == http.StatusTooManyRequests || code == codeTooManyRequests || code == codeWhatsAppRate || status >= 500:
		se.Retryable = true
		se.RetryAfter = parseRetryAfter(t.retryAfter, a.now())
	}
	return se
}

// apiError is a Twilio API error without its message, which may hold
// personal data.
type apiError struct {
	Status int
	Code   int
}

func (e *apiError) Error() string {
	return fmt.Sprintf("twilio api: http status %d, error code %d", e.Status, e.Code)
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// apiTransport carries one Send's requests: it gives them the context,
// points them at the configured API URL, and keeps what sendError needs
// from the last response. twilio-go leaves error bodies open, so it reads
// and closes them here.
type apiTransport struct {
	ctx        context.Context
	base       http.RoundTripper
	apiURL     *url.URL
	status     int
	retryAfter string
}

func (t *apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(t.ctx)
	if t.apiURL != nil {
		req.URL.Scheme = t.apiURL.Scheme
		req.URL.Host = t.apiURL.Host
		req.URL.Path = strings.TrimRight(t.apiURL.Path, "/") + req.URL.Path
		req.URL.RawPath = ""
		req.Host = ""
	}
	t.status, t.retryAfter = 0, ""
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.status, t.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	if resp.StatusCode >= 400 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}

// limiter spaces sends interval apart, across all of the adapter's sends.
type limiter struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keywordTTL is how long replies to a person are dropped after they sent a
// carrier keyword: long enough for the turn that answers it.
const keywordTTL = 2 * time.Minute

// noteInbound records whether address's latest text was a carrier
// keyword, whose answer Send must drop. The record is in this process's
// memory only: with several processes, the one that sends the reply may
// not have seen the keyword, and the person gets a second answer.
func (a *Adapter) noteInbound(address string, keyword bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if keyword {
		a.keywords[address] = now
	} else {
		delete(a.keywords, address)
	}
	if now.Sub(a.swept) > keywordTTL {
		for k, at := range a.keywords {
			if now.Sub(at) > keywordTTL {
				delete(a.keywords, k)
			}
		}
		a.swept = now
	}
}

// suppressed reports whether a reply to address answers a carrier keyword.
func (a *Adapter) suppressed(address string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.keywords[address]
	return ok && a.now().Sub(at) <= keywordTTL
}
