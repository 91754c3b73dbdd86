package runner_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// phone is one person on a recording channel, who presses buttons.
type phone struct {
	t    *testing.T
	h    *bottest.Harness
	ch   *bottest.Channel
	addr string
	n    int
}

func (p *phone) accept(in bot.Inbound) {
	p.t.Helper()
	p.n++
	in.Channel, in.Address, in.MessageID = p.ch.Name(), p.addr, fmt.Sprintf("%s-%d-%d", p.addr, p.n, time.Now().UnixNano())
	p.h.Accept(in)
	p.h.Settle()
}

// press presses the button id on the newest message that has buttons.
func (p *phone) press(id string) {
	p.t.Helper()
	msgs := p.ch.To(p.addr)
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
func (p *phone) since(n int) []bot.Outbound { return p.ch.To(p.addr)[n:] }

func (p *phone) count() int { return len(p.ch.To(p.addr)) }

var said = bottest.Said

// TestSoundSettingInEveryLanguage turns sound on and off again in
// Settings in every language, and reads MY DATA and what SendTo sends
// (as a broadcast does) after each choice.
func TestSoundSettingInEveryLanguage(t *testing.T) {
	tg := bottest.NewChannel("telegram")
	h := bottest.Start(t, bottest.WithChannels(tg), bottest.Workers(2))
	rt := h.RT
	ctx := context.Background()
	text := func(lang, id string) string { return bottest.Text(t, lang, id) }
	for i, lang := range bottest.Content(t).Def.Languages {
		t.Run(lang, func(t *testing.T) {
			p := &phone{t: t, h: h, ch: tg, addr: fmt.Sprint(81000 + i)}
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
				h.Settle()
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
	tg, sms := bottest.NewChannel("telegram"), bottest.NewChannel("sms")
	h := bottest.Start(t, bottest.WithChannels(tg, sms), bottest.Workers(2))
	rt := h.RT
	ctx := context.Background()
	p := &phone{t: t, h: h, ch: tg, addr: "82001"}
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
	h.Settle()
	check("a check-in", p.since(n), true, false)
	n = p.count()
	p.press("4")
	check("the answer to a check-in", p.since(n), false, false)

	n = p.count()
	if ok, err := rt.SendOnce(ctx, person, "once-1", []bot.Outbound{{Text: "a job alert"}}); !ok || err != nil {
		t.Fatalf("SendOnce: %v, %v", ok, err)
	}
	h.Settle()
	check("SendOnce", p.since(n), true, false)

	s := &phone{t: t, h: h, ch: sms, addr: "+15005550123"}
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
