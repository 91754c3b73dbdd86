package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// The chaos run's people: each writes, waits for the whole reply, thinks
// and writes again, as in the closed loop of the load test, but through
// the webhooks of real processes, and reads replies from the fake
// platforms.
//
// Telling a repeat from a reply: a reply is complete when a message with
// options arrives (every reply the people below can cause ends with one,
// but the one line that answers a photo). A repeated message is one identical to a message of the current
// reply or of the one before it: a sender that resends after a crash
// resends the message it was sending and then the rest of that delivery,
// and the person can only have moved on after the last message of a
// reply, so a repeat always lands in that window. For this to hold, no
// reply may legitimately show again a message of the previous one, so
// people avoid what would: on Telegram every set of buttons carries a new
// prompt number, and a person never sends two unreadable messages in a
// row (both would get "tap one of the answers"); on SMS people only
// choose offered options. The run's fault-free start checks it: a repeat
// before the first fault is reported as such.

// chaosPerson is one simulated person.
type chaosPerson struct {
	idx      int
	telegram bool
	chat     int64  // Telegram
	phone    string // SMS

	mu       sync.Mutex
	step     int         // messages written
	waiting  bool        // the last one's reply is not complete
	posting  bool        // the last one's webhook is not answered 2xx yet
	accepted []bool      // per message: the webhook answered 2xx
	answered []time.Time // per message: when its reply completed
	prev     []sentMsg   // the previous reply's messages
	cur      []sentMsg   // this reply's messages so far
	offer    offer       // the last options offered
	invalid  bool        // the last message answered no option
	move     string      // what the last message was, for the report
	photo    bool        // the last message was a photo: one line answers it
	sends    []time.Time // when the last FloodLimit messages were written
	wake     chan struct{}
	// acceptedAt is per message when the webhook was answered 2xx.
	acceptedAt []time.Time
}

// sentMsg is a message a person received, and the process that sent it.
type sentMsg struct{ content, via string }

// seen returns who sent content in msgs, if it is there.
func seen(msgs []sentMsg, content string) (string, bool) {
	for _, m := range msgs {
		if m.content == content {
			return m.via, true
		}
	}
	return "", false
}

// Telegram chats and SMS numbers of the people.
const chatBase = 7_100_000

func smsNumber(i int) string { return fmt.Sprintf("+4477009%05d", i) }

// Twilio's side of the run.
const (
	chaosTwilioSID   = "AC0123456789abcdef0123456789abcdef"
	chaosTwilioToken = "chaostwiliotoken0123"
	chaosTwilioFrom  = "+15005550006"
	chaosSecret      = "chaos-webhook-secret"
	chaosPublicURL   = "https://lifeline.example"
)

// chatter is text that answers no option.
var chaosChatter = []string{"ok", "thank you", "what?", "hello??", "is this free", "??"}

// unsafeOptions lead where the people do not go: a coach (a case, a
// conversation) or the settings (a free-text question, STOP, DELETE).
var unsafeOptions = []string{"coach", "settings"}

// onSend takes a message a fake platform accepted.
func (r *chaosRun) onSend(d delivery) {
	var p *chaosPerson
	if d.telegram {
		i := int(d.chat - chatBase)
		if i >= 0 && i < len(r.people) && r.people[i].telegram {
			p = r.people[i]
		}
		for i, data := range d.offer.data {
			if id := optionID(data); id != "" {
				r.labels.Store(d.offer.labels[i], id)
			}
		}
	} else {
		p = r.byPhone[d.to]
	}
	if p == nil {
		r.stray.Add(1)
		return
	}
	r.received.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	via, dup := seen(p.cur, d.content)
	if !dup {
		via, dup = seen(p.prev, d.content)
	}
	if dup {
		r.addRepeat(d, p, via)
		return
	}
	p.cur = append(p.cur, sentMsg{d.content, d.via})
	if d.offer.present {
		p.offer = d.offer
	} else if !p.photo || len(p.cur) > 1 {
		return
	}
	if !p.waiting {
		r.unexpected.Add(1)
		return
	}
	p.waiting = false
	p.answered[p.step-1] = d.at
	r.answered.Add(1)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// optionID is the option id in Telegram callback data "v1:<prompt>:<id>".
func optionID(data string) string {
	parts := strings.SplitN(data, ":", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[2]
}

// live drives person p until the load ends.
func (r *chaosRun) live(ctx context.Context, p *chaosPerson, rng *mrand.Rand) {
	for ctx.Err() == nil && time.Now().Before(r.loadEnd) {
		if !r.floodWait(ctx, p) {
			return
		}
		wh, err := r.compose(ctx, p, rng)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.prev, p.cur = p.cur, nil
		p.waiting, p.posting = true, true
		p.step++
		k := p.step - 1
		p.accepted = append(p.accepted, false)
		p.acceptedAt = append(p.acceptedAt, time.Time{})
		p.answered = append(p.answered, time.Time{})
		p.sends = append(p.sends, time.Now())
		if len(p.sends) > runner.FloodLimit {
			p.sends = p.sends[1:]
		}
		p.mu.Unlock()
		ok := r.post(ctx, wh, rng)
		p.mu.Lock()
		p.posting = false
		p.accepted[k] = ok
		if ok {
			p.acceptedAt[k] = time.Now()
		}
		if !ok && p.waiting {
			// Never recorded as far as the person knows: a reply to it
			// would be counted as unexpected.
			p.waiting = false
		}
		p.mu.Unlock()
		if ok {
			r.accepted.Add(1)
		} else {
			r.refused.Add(1)
		}
		if !r.awaitReply(ctx, p) {
			return
		}
		think := time.Duration(500+rng.IntN(2000)) * time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-time.After(think):
		}
	}
}

// awaitReply waits until p's reply is complete; false when the run ends
// first.
func (r *chaosRun) awaitReply(ctx context.Context, p *chaosPerson) bool {
	deadline := time.NewTimer(time.Until(r.drainEnd))
	defer deadline.Stop()
	for {
		p.mu.Lock()
		waiting := p.waiting
		p.mu.Unlock()
		if !waiting {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-p.wake:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// floodMarginChaos keeps people clear of the runtime's flood limit, which
// counts on its own clock, after the webhook.
const floodMarginChaos = 5 * time.Second

// floodWait rests p while another message would pass the flood limit.
func (r *chaosRun) floodWait(ctx context.Context, p *chaosPerson) bool {
	p.mu.Lock()
	var until time.Time
	if len(p.sends) >= runner.FloodLimit {
		until = p.sends[0].Add(runner.FloodWindow + floodMarginChaos)
	}
	p.mu.Unlock()
	if d := time.Until(until); d > 0 {
		r.rests.Add(1)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
		}
	}
	return true
}

// webhook is one message as the platform posts it.
type webhook struct {
	path   string
	body   []byte
	header http.Header
}

// compose makes p's next message from what p was offered last.
func (r *chaosRun) compose(ctx context.Context, p *chaosPerson, rng *mrand.Rand) (webhook, error) {
	p.mu.Lock()
	step, o, invalid := p.step, p.offer, p.invalid
	p.mu.Unlock()
	if p.telegram {
		u := r.telegramMove(p, step, o, invalid, rng)
		p.mu.Lock()
		p.move = describeUpdate(u)
		p.photo = u.Message != nil && len(u.Message.Photo) > 0
		p.mu.Unlock()
		req := r.tg.WebhookRequest(u, chaosSecret)
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return webhook{}, err
		}
		return webhook{path: "/telegram/webhook", body: body, header: req.Header}, nil
	}
	text := r.smsMove(ctx, p, step, o, rng)
	p.mu.Lock()
	p.move = "text " + strconv.Quote(text)
	p.mu.Unlock()
	form := url.Values{
		"MessageSid": {"SM" + randHex(16)}, "AccountSid": {chaosTwilioSID},
		"From": {p.phone}, "To": {chaosTwilioFrom}, "Body": {text}, "NumMedia": {"0"},
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Twilio-Signature", smstest.Sign(chaosTwilioToken, chaosPublicURL+"/sms/inbound", form))
	return webhook{path: "/sms/inbound", body: []byte(form.Encode()), header: h}, nil
}

// describeUpdate says what a person did, for the report.
func describeUpdate(u *models.Update) string {
	switch {
	case u.CallbackQuery != nil:
		return "press " + u.CallbackQuery.Data
	case u.Message != nil && u.Message.Text != "":
		return "text " + strconv.Quote(u.Message.Text)
	}
	return "photo"
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// telegramMove is a Telegram person's next update: onboarding, then
// mostly a button (pressed, or its number typed), sometimes MENU, chatter
// or a photo.
func (r *chaosRun) telegramMove(p *chaosPerson, step int, o offer, invalid bool, rng *mrand.Rand) *models.Update {
	setInvalid := func(v bool) {
		p.mu.Lock()
		p.invalid = v
		p.mu.Unlock()
	}
	choose := func(id string) *models.Update {
		setInvalid(false)
		i := slices.IndexFunc(o.data, func(d string) bool { return optionID(d) == id })
		if i < 0 {
			return telegramtest.TextUpdate(p.chat, "1")
		}
		if rng.IntN(100) < 85 {
			return telegramtest.CallbackUpdate(p.chat, o.msgID, o.data[i])
		}
		return telegramtest.TextUpdate(p.chat, strconv.Itoa(i+1))
	}
	switch step {
	case 0:
		return telegramtest.TextUpdate(p.chat, "hi")
	case 1:
		return choose("en")
	case 2:
		return choose("agree")
	}
	switch n := rng.IntN(100); {
	case n < 6:
		setInvalid(false)
		return telegramtest.TextUpdate(p.chat, "menu")
	case n < 11 && !invalid:
		setInvalid(true)
		return telegramtest.TextUpdate(p.chat, chaosChatter[rng.IntN(len(chaosChatter))])
	case n < 13 && !invalid:
		setInvalid(true)
		return telegramtest.PhotoUpdate(p.chat)
	}
	var safe []string
	for _, d := range o.data {
		if id := optionID(d); id != "" && !slices.Contains(unsafeOptions, id) {
			safe = append(safe, id)
		}
	}
	if len(safe) == 0 {
		setInvalid(false)
		return telegramtest.TextUpdate(p.chat, "menu")
	}
	return choose(safe[rng.IntN(len(safe))])
}

// smsMove is an SMS person's next text: the number of an offered option.
// Options are known by their labels; which lead to a coach or the
// settings is learnt from the Telegram people's buttons (same content,
// same language), and an option nobody has seen on Telegram yet is
// chosen only after a wait, and never one that names a coach or the
// settings.
func (r *chaosRun) smsMove(ctx context.Context, p *chaosPerson, step int, o offer, rng *mrand.Rand) string {
	digit := func(label string) string {
		if i := slices.Index(o.labels, label); i >= 0 {
			return strconv.Itoa(i + 1)
		}
		return "1"
	}
	switch step {
	case 0:
		return "hi"
	case 1:
		return digit("English")
	}
	want := func(id string) bool { return !slices.Contains(unsafeOptions, id) }
	if step == 2 {
		want = func(id string) bool { return id == "agree" }
	}
	for range 30 {
		var safe, unknown []string
		for _, l := range o.labels {
			id, ok := r.labels.Load(l)
			switch {
			case !ok:
				unknown = append(unknown, l)
			case want(id.(string)):
				safe = append(safe, l)
			}
		}
		if len(safe) > 0 {
			return digit(safe[rng.IntN(len(safe))])
		}
		if len(unknown) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return "1"
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, l := range o.labels {
		low := strings.ToLower(l)
		if !strings.Contains(low, "coach") && !strings.Contains(low, "setting") {
			return digit(l)
		}
	}
	return "1"
}

// post delivers a webhook to one of the processes, as a load balancer in
// front of them would, until one answers 2xx: an answer of 5xx, a refused
// connection or a timeout sends it again with the same id, as Telegram
// and Twilio do, for at most postPatience.
func (r *chaosRun) post(ctx context.Context, wh webhook, rng *mrand.Rand) bool {
	deadline := time.Now().Add(postPatience)
	for attempt := 0; ; attempt++ {
		p := r.procs[rng.IntN(len(r.procs))]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+wh.path, bytes.NewReader(wh.body))
		if err != nil {
			return false
		}
		req.Header = wh.header.Clone()
		res, err := r.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode/100 == 2 {
				return true
			}
			if res.StatusCode/100 == 4 && res.StatusCode != http.StatusTooManyRequests {
				r.rejected.Add(1)
				r.progressf("webhook %s answered %d: not sent again", wh.path, res.StatusCode)
				return false
			}
		}
		r.resent.Add(1)
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Duration(100+rng.IntN(300)) * time.Millisecond):
		}
	}
}

// postPatience is how long a webhook is sent again before it is given up.
const postPatience = 60 * time.Second
