package runner_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// outbox is a channel that keeps every message as sent, flags and all.
type outbox struct {
	name string
	mu   sync.Mutex
	got  map[string][]bot.Outbound
}

func (o *outbox) Name() string                                  { return o.name }
func (o *outbox) Run(ctx context.Context, _ bot.Receiver) error { <-ctx.Done(); return nil }
func (o *outbox) Send(_ context.Context, addr string, m bot.Outbound) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got[addr] = append(o.got[addr], m)
	return int64(len(o.got[addr])), nil
}

func (o *outbox) to(addr string) []bot.Outbound {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.got[addr])
}

// phone is one person on an outbox channel, who presses buttons.
type phone struct {
	t    *testing.T
	rt   *runner.Runtime
	ch   *outbox
	addr string
	n    int
}

func (p *phone) accept(in bot.Inbound) {
	p.t.Helper()
	p.n++
	in.Channel, in.Address, in.MessageID = p.ch.name, p.addr, fmt.Sprintf("%s-%d-%d", p.addr, p.n, time.Now().UnixNano())
	if err := p.rt.Accept(context.Background(), in); err != nil {
		p.t.Fatal(err)
	}
	p.settle()
}

func (p *phone) settle() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.rt.Settle(ctx); err != nil {
		p.t.Fatalf("settle: %v", err)
	}
}

// press presses the button id on the newest message that has buttons.
func (p *phone) press(id string) {
	p.t.Helper()
	msgs := p.ch.to(p.addr)
	for i := len(msgs) - 1; i >= 0; i-- {
		if len(msgs[i].Options) == 0 {
			continue
		}
		if !slices.ContainsFunc(msgs[i].Options, func(o bot.OutOption) bool { return o.ID == id }) {
			p.t.Fatalf("no button %q on %q", id, msgs[i].Text)
		}
		p.accept(bot.Inbound{Choice: id, Prompt: msgs[i].Prompt})
		return
	}
	p.t.Fatalf("no buttons to press %q on", id)
}

// since returns the messages sent after the first n.
func (p *phone) since(n int) []bot.Outbound { return p.ch.to(p.addr)[n:] }

func (p *phone) count() int { return len(p.ch.to(p.addr)) }

// said reports whether one of msgs holds text.
func said(msgs []bot.Outbound, text string) bool {
	return slices.ContainsFunc(msgs, func(m bot.Outbound) bool { return strings.Contains(m.Text, text) })
}

func newLooks(t *testing.T, channels ...bot.Channel) (*runner.Runtime, *content.Content) {
	t.Helper()
	c, err := testContent()
	if err != nil {
		t.Fatal(err)
	}
	rt := runner.New(runner.Config{Store: store.New(storetest.Shared(t), storetest.Namespace()), Sealer: sealer(t), Content: c, Channels: channels, Workers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return rt, c
}

// TestSoundSettingInEveryLanguage turns sound on and off again in
// Settings in every language, and reads MY DATA and what SendTo sends
// (as a broadcast does) after each choice.
func TestSoundSettingInEveryLanguage(t *testing.T) {
	tg := &outbox{name: "telegram", got: map[string][]bot.Outbound{}}
	rt, c := newLooks(t, tg)
	ctx := context.Background()
	text := func(lang, id string) string {
		s, err := c.Catalog.Text(lang, id, c.Data())
		if err != nil {
			t.Fatalf("%s %s: %v", lang, id, err)
		}
		return s
	}
	for i, lang := range c.Def.Languages {
		t.Run(lang, func(t *testing.T) {
			p := &phone{t: t, rt: rt, ch: tg, addr: fmt.Sprint(81000 + i)}
			person := rt.PersonID("telegram", p.addr)
			myData := func(want, not string) {
				t.Helper()
				n := p.count()
				p.press("settings")
				p.press("mydata")
				got := p.since(n)
				if !said(got, text(lang, want)) || said(got, text(lang, not)) {
					t.Errorf("MY DATA in %s lacks %s or shows %s:\n%v", lang, want, not, got)
				}
				p.press("back")
			}
			broadcast := func(silent bool) {
				t.Helper()
				n := p.count()
				if ok, err := rt.SendTo(ctx, person, []bot.Outbound{{Text: "news " + lang}}); !ok || err != nil {
					t.Fatalf("SendTo: %v, %v", ok, err)
				}
				p.settle()
				got := p.since(n)
				if len(got) != 1 || got[0].Silent != silent || got[0].Protect {
					t.Errorf("sent %+v, want one message with Silent %v", got, silent)
				}
			}
			sound := func(choice, answer string) {
				t.Helper()
				p.press("settings")
				p.press("more")
				n := p.count()
				p.press("sound")
				if got := p.since(n); !said(got, text(lang, "discreet.offer")) {
					t.Errorf("the Sound option said %v", got)
				}
				n = p.count()
				p.press(choice)
				got := p.since(n)
				if !said(got, text(lang, answer)) {
					t.Errorf("after %s: %v, want %s", choice, got, answer)
				}
				for _, m := range got {
					if m.Silent || m.Protect {
						t.Errorf("a reply went silent or protected: %+v", m)
					}
				}
			}

			p.accept(bot.Inbound{Text: "hi"})
			p.press(lang)
			p.press("agree")
			myData("discreet.mydata_silent", "discreet.mydata_sound")
			broadcast(true)
			sound("sound", "discreet.sound")
			myData("discreet.mydata_sound", "discreet.mydata_silent")
			broadcast(false)
			sound("silent", "discreet.silent")
			myData("discreet.mydata_silent", "discreet.mydata_sound")
			broadcast(true)
		})
	}
}

// TestDiscreetLooks checks which of a turn's messages go silent and which
// protected: the replies to a flow the runtime started (a check-in) go
// silently and the person's own turns ring; lesson messages are protected,
// and so is nothing else; SendOnce is as silent as SendTo. On SMS, where
// nothing can be silent, MY DATA says nothing about sound.
func TestDiscreetLooks(t *testing.T) {
	tg := &outbox{name: "telegram", got: map[string][]bot.Outbound{}}
	sms := &outbox{name: "sms", got: map[string][]bot.Outbound{}}
	rt, _ := newLooks(t, tg, sms)
	ctx := context.Background()
	p := &phone{t: t, rt: rt, ch: tg, addr: "82001"}
	person := rt.PersonID("telegram", p.addr)
	check := func(what string, msgs []bot.Outbound, silent, protect bool) {
		t.Helper()
		if len(msgs) == 0 {
			t.Fatalf("%s: nothing sent", what)
		}
		for _, m := range msgs {
			if m.Silent != silent || m.Protect != protect {
				t.Errorf("%s: %q has Silent %v, Protect %v; want %v, %v", what, m.Text, m.Silent, m.Protect, silent, protect)
			}
		}
	}

	n := p.count()
	p.accept(bot.Inbound{Text: "hi"})
	p.press("en")
	p.press("agree")
	check("onboarding", p.since(n), false, false)

	n = p.count()
	p.press("rights")
	check("the rights menu", p.since(n), false, false)
	n = p.count()
	p.press("documents")
	lesson := p.since(n)
	check("a lesson", lesson, false, true)
	if !said(lesson, rt.Render("en", "lesson.documents.1", nil)) {
		t.Errorf("the lesson did not start: %v", lesson)
	}
	n = p.count()
	p.press("continue")
	check("a lesson, going on", p.since(n), false, true)
	n = p.count()
	p.accept(bot.Inbound{Text: "menu"})
	check("the menu, leaving a lesson", p.since(n), false, true)
	n = p.count()
	p.press("settings")
	check("the settings after a lesson", p.since(n), false, false)

	n = p.count()
	if err := rt.Trigger(ctx, person, "checkin", "ci-looks"); err != nil {
		t.Fatal(err)
	}
	p.settle()
	check("a check-in", p.since(n), true, false)
	n = p.count()
	p.press("4")
	check("the answer to a check-in", p.since(n), false, false)

	n = p.count()
	if ok, err := rt.SendOnce(ctx, person, "once-1", []bot.Outbound{{Text: "a job alert"}}); !ok || err != nil {
		t.Fatalf("SendOnce: %v, %v", ok, err)
	}
	p.settle()
	check("SendOnce", p.since(n), true, false)

	s := &phone{t: t, rt: rt, ch: sms, addr: "+15005550123"}
	s.accept(bot.Inbound{Text: "hi"})
	s.press("en")
	s.press("agree")
	n = s.count()
	s.press("settings")
	s.press("mydata")
	if got := s.since(n); !said(got, rt.Render("en", "mydata.language", map[string]string{"value": "English"})) || said(got, rt.Render("en", "discreet.mydata_silent", nil)) {
		t.Errorf("MY DATA on SMS: %v", got)
	}
}
