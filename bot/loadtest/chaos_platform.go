package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// The chaos run's platforms: the test kits' fake Bot API and fake Twilio,
// each Lifeline process reaching them through a gate of its own.

// delivery is one message a fake platform accepted for a person.
type delivery struct {
	telegram bool
	chat     int64  // Telegram
	to       string // SMS
	// content is what the person's phone shows: the text and, on
	// Telegram, each button's label and data (which carries the prompt
	// number, so a menu shown again is not the same message).
	content string
	// offer is the options it carries (none on most messages).
	offer offer
	at    time.Time
	// via is the gate (so the process) that sent it.
	via string
}

// key names the person and the message's content.
func (d delivery) key() string {
	if d.telegram {
		return "t" + strconv.FormatInt(d.chat, 10) + "\x00" + d.content
	}
	return "s" + d.to + "\x00" + d.content
}

// offer is what a person can answer: Telegram buttons or SMS numbered
// options.
type offer struct {
	msgID   int // Telegram: the message the buttons are on
	labels  []string
	data    []string // Telegram callback data, "v1:<prompt>:<option id>"
	present bool
}

// gate is the path from one Lifeline process slot to the fake platforms:
// a reverse proxy on 127.0.0.1 that tells the run about every message the
// platforms accept, holds the platform's answer back for a moment (the
// trip back over the internet, during which the platform has the message
// and the process does not know it yet) and counts the sends under way,
// so a kill can be compared with what the process had in flight.
type gate struct {
	name string
	url  string
	plat *platform
	srv  *http.Server

	mu      sync.Mutex
	flights []*flying // sends under way, or answered within markGrace
}

// flying is one send through a gate.
type flying struct {
	key      string    // delivery.key, once the platform accepted it
	answered time.Time // when the process had the answer (zero: not yet)
}

// platform is the fakes and their gates.
type platform struct {
	tg      *telegramtest.Server
	tw      *smstest.Server
	client  *http.Client
	latency func() time.Duration
	onSend  func(delivery)
	gates   []*gate
}

// markGrace is how long after a process had the platform's answer its
// record of the send counts as still under way: recording takes a Redis
// round trip (about a millisecond here).
const markGrace = 250 * time.Millisecond

func newPlatform(tg *telegramtest.Server, tw *smstest.Server, seed uint64, onSend func(delivery)) *platform {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 7))
	return &platform{
		tg: tg, tw: tw, onSend: onSend,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		// 10-80 ms back to the process, as from a platform's data centre.
		latency: func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Duration(10+rng.IntN(70)) * time.Millisecond
		},
	}
}

// addGate starts a gate for one process slot.
func (p *platform) addGate(name string) (*gate, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gate{name: name, url: "http://" + l.Addr().String(), plat: p}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(l) }()
	p.gates = append(p.gates, g)
	return g, nil
}

func (p *platform) close() {
	for _, g := range p.gates {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = g.srv.Shutdown(ctx)
		cancel()
	}
	p.client.CloseIdleConnections()
}

// flight returns the sends under way through g: forwarded and not yet
// answered, or answered within markGrace. Their keys are set once the
// platform has accepted them (read them after the sends have finished).
func (g *gate) flight(now time.Time) []*flying {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*flying
	for _, f := range g.flights {
		if f.answered.IsZero() || now.Sub(f.answered) <= markGrace {
			out = append(out, f)
		}
	}
	return out
}

// keys returns the keys of the sends in fs that the platform accepted.
func (g *gate) keys(fs []*flying) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, f := range fs {
		if f.key != "" {
			out = append(out, f.key)
		}
	}
	return out
}

func (g *gate) begin() *flying {
	f := &flying{}
	g.mu.Lock()
	g.flights = append(g.flights, f)
	g.mu.Unlock()
	return f
}

func (g *gate) accepted(f *flying, key string) {
	g.mu.Lock()
	f.key = key
	g.mu.Unlock()
}

// end notes that the process had the answer (or is gone), and forgets
// sends answered over markGrace ago.
func (g *gate) end(f *flying) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	f.answered = now
	kept := g.flights[:0]
	for _, x := range g.flights {
		if x.answered.IsZero() || now.Sub(x.answered) <= markGrace {
			kept = append(kept, x)
		}
	}
	clear(g.flights[len(kept):])
	g.flights = kept
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := g.plat
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	telegram := strings.HasPrefix(r.URL.Path, "/bot")
	target := p.tw.URL
	if telegram {
		target = p.tg.URL
	}
	send := strings.HasSuffix(r.URL.Path, "/sendMessage") || strings.HasSuffix(r.URL.Path, "/Messages.json")
	var fl *flying
	if send {
		fl = g.begin()
		defer func() { g.end(fl) }()
	}
	// Not cut short when the process dies: a send the platform started
	// taking completes, as it would at Telegram or Twilio.
	req, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	res, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if send && res.StatusCode/100 == 2 {
		if d, ok := p.accepted(telegram, body, answer); ok {
			d.via = g.name
			g.accepted(fl, d.key())
			p.onSend(d)
		}
		select {
		case <-time.After(p.latency()):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(answer)
}

// accepted reads the message a platform took: Telegram's from the fake's
// record of the chat (the answer names it), Twilio's from the request.
func (p *platform) accepted(telegram bool, body, answer []byte) (delivery, bool) {
	now := time.Now()
	if !telegram {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return delivery{}, false
		}
		text := form.Get("Body")
		return delivery{to: form.Get("To"), content: text, offer: smsOffer(text), at: now}, true
	}
	var res struct {
		Result struct {
			ID   int `json:"message_id"`
			Chat struct {
				ID int64 `json:"id"`
			} `json:"chat"`
		} `json:"result"`
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return delivery{}, false
	}
	msgs := p.tg.Messages(res.Result.Chat.ID)
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.ID != res.Result.ID {
			continue
		}
		d := delivery{telegram: true, chat: m.Chat, content: m.Text, at: now}
		for _, b := range m.Buttons {
			d.content += "\n[" + b.Text + "|" + b.Data + "]"
			d.offer.labels = append(d.offer.labels, b.Text)
			d.offer.data = append(d.offer.data, b.Data)
		}
		d.offer.msgID, d.offer.present = m.ID, len(m.Buttons) > 0
		return d, true
	}
	return delivery{}, false
}

// smsOffer reads the numbered options Lifeline puts at the end of an SMS,
// one a line: "1 Label", "2 Label", …
func smsOffer(text string) offer {
	lines := strings.Split(text, "\n")
	var labels []string
	for i := len(lines) - 1; i >= 0; i-- {
		n, label, ok := strings.Cut(lines[i], " ")
		if !ok {
			break
		}
		if _, err := strconv.Atoi(n); err != nil {
			break
		}
		labels = append([]string{label}, labels...)
	}
	for i := range labels {
		n, _, _ := strings.Cut(lines[len(lines)-len(labels)+i], " ")
		if n != strconv.Itoa(i+1) {
			return offer{}
		}
	}
	return offer{labels: labels, present: len(labels) > 0}
}
