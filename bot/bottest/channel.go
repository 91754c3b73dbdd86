package bottest

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/lifeline-org/lifeline/bot"
)

// Sent is one message a Channel sent, and where.
type Sent struct {
	Addr string
	Msg  bot.Outbound
}

// Channel is a bot.Channel that sends every message at once and records
// it, in order. FailWith makes sends fail; LimitWith spaces them as a real
// channel would.
type Channel struct {
	name     string
	mu       sync.Mutex
	sent     []Sent
	attempts map[string]int
	fail     func(addr string, attempt int) error
	lim      *bot.Limiter
}

// NewChannel returns a recording channel called name.
func NewChannel(name string) *Channel {
	return &Channel{name: name, attempts: map[string]int{}}
}

// FailWith sets what decides each send attempt's error: attempt counts
// the attempts to addr, from 1. A nil error lets the send through; a nil
// f lets every send through.
func (c *Channel) FailWith(f func(addr string, attempt int) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = f
}

// LimitWith makes every send wait for lim, keyed by address.
func (c *Channel) LimitWith(lim *bot.Limiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lim = lim
}

// Name is the channel's name.
func (c *Channel) Name() string { return c.name }

// Run waits for ctx to end: a recording channel receives nothing.
func (c *Channel) Run(ctx context.Context, _ bot.Receiver) error { <-ctx.Done(); return nil }

// Send records m for addr, unless the failure hook refuses it. It returns
// the number of messages recorded so far as the platform's id.
func (c *Channel) Send(ctx context.Context, addr string, m bot.Outbound) (int64, error) {
	c.mu.Lock()
	lim := c.lim
	c.mu.Unlock()
	if lim != nil {
		if _, err := lim.Wait(ctx, addr); err != nil {
			return 0, &bot.SendError{Retryable: true, Err: err}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts[addr]++
	if c.fail != nil {
		if err := c.fail(addr, c.attempts[addr]); err != nil {
			return 0, err
		}
	}
	c.sent = append(c.sent, Sent{addr, m})
	return int64(len(c.sent)), nil
}

// Sent returns every message sent, oldest first.
func (c *Channel) Sent() []Sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

// Lines returns every message sent as one line, oldest first:
// "addr: text [label | label]", the labels those of its buttons.
func (c *Channel) Lines() []string {
	var out []string
	for _, s := range c.Sent() {
		out = append(out, Line(s.Addr, s.Msg))
	}
	return out
}

// Line is how Lines shows message m sent to addr.
func Line(addr string, m bot.Outbound) string { return addr + ": " + shown(m) }

// shown is message m's text and, in brackets, the labels of its buttons.
func shown(m bot.Outbound) string {
	if len(m.Options) == 0 {
		return m.Text
	}
	labels := make([]string, len(m.Options))
	for i, o := range m.Options {
		labels[i] = o.Label
	}
	return m.Text + " [" + strings.Join(labels, " | ") + "]"
}

// To returns the messages sent to addr, oldest first.
func (c *Channel) To(addr string) []bot.Outbound {
	var out []bot.Outbound
	for _, s := range c.Sent() {
		if s.Addr == addr {
			out = append(out, s.Msg)
		}
	}
	return out
}

// Texts returns the lines (as Lines shows them, without the address) sent
// to addr, oldest first.
func (c *Channel) Texts(addr string) []string {
	var out []string
	for _, s := range c.Sent() {
		if s.Addr == addr {
			out = append(out, shown(s.Msg))
		}
	}
	return out
}

// Total is how many messages were sent.
func (c *Channel) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// Said reports whether one of msgs holds text.
func Said(msgs []bot.Outbound, text string) bool {
	return slices.ContainsFunc(msgs, func(m bot.Outbound) bool { return strings.Contains(m.Text, text) })
}

// Receiver is a bot.Receiver that records what it accepts, in order. It
// does not drop redeliveries: that is the runtime's work.
type Receiver struct {
	mu    sync.Mutex
	got   []bot.Inbound
	calls int
	hook  func(call int, in bot.Inbound) error
}

// NewReceiver returns a Receiver; hook, when not nil, decides each
// Accept first (call counts the calls, from 1): an error (or a panic) is
// what Accept gives back, and the message is not recorded.
func NewReceiver(hook func(call int, in bot.Inbound) error) *Receiver {
	return &Receiver{hook: hook}
}

// Accept records in, unless the hook refuses it.
func (r *Receiver) Accept(_ context.Context, in bot.Inbound) error {
	r.mu.Lock()
	r.calls++
	n, hook := r.calls, r.hook
	r.mu.Unlock()
	if hook != nil {
		if err := hook(n, in); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, in)
	return nil
}

// Accepted returns what was accepted, oldest first.
func (r *Receiver) Accepted() []bot.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Reset forgets what was accepted.
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = nil
}
