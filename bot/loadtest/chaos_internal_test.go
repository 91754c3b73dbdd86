package loadtest

import (
	"bytes"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestKitT runs the kits the chaos run uses under the stand-in for
// testing.TB, as `lifeline loadtest -chaos` does: they start, their
// clean-ups run, a kill and restart of Redis works, and nothing reaches
// the nil testing.TB inside it.
func TestKitT(t *testing.T) {
	var log bytes.Buffer
	k := newKitT(&log)
	tg := telegramtest.NewServer(k)
	tw := smstest.NewServer(k)
	srv := storetest.StartServer(k)
	srv.Kill()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	dir := srv.Dir()
	if tg.URL == "" || tw.URL == "" {
		t.Fatal("a fake has no URL")
	}
	k.finish()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Redis's directory %s is still there after finish: %v", dir, err)
	}
	if errs := k.errors(); len(errs) > 0 {
		t.Errorf("the kits reported %q", errs)
	}
	k.Errorf("fake %s", "trouble")
	if !k.Failed() || !bytes.Contains(log.Bytes(), []byte("fake trouble")) {
		t.Errorf("an error is not kept and shown: failed %v, log %q", k.Failed(), log.String())
	}
	func() {
		defer func() {
			if f, ok := recover().(kitFatal); !ok || f.msg != "stop here" {
				t.Errorf("Fatal did not panic with kitFatal: %v", f)
			}
		}()
		k.Fatal("stop here")
	}()
}

// TestChaosAccounting: how the run reads what the platforms accepted for
// a person. A reply is complete at a message with options (or, after a
// photo, at its one line); a message that arrives again within the
// current reply or the one before is a repeat, whichever process sent it.
func TestChaosAccounting(t *testing.T) {
	r := &chaosRun{start: time.Now()}
	p := &chaosPerson{idx: 0, telegram: true, chat: chatBase, wake: make(chan struct{}, 1)}
	r.people = []*chaosPerson{p}
	send := func(content string, options bool, via string) {
		d := delivery{telegram: true, chat: chatBase, content: content, at: time.Now(), via: via}
		if options {
			d.offer = offer{msgID: 1, labels: []string{"Go"}, data: []string{"v1:1:go"}, present: true}
		}
		r.onSend(d)
	}
	write := func(photo bool) {
		p.mu.Lock()
		p.prev, p.cur = p.cur, nil
		p.waiting, p.photo = true, photo
		p.step++
		p.accepted = append(p.accepted, true)
		p.answered = append(p.answered, time.Time{})
		p.mu.Unlock()
	}
	answered := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.IndexFunc(p.answered, time.Time.IsZero)
	}

	write(false)
	send("Welcome", false, "a")
	if answered() != 0 {
		t.Fatal("a message without options completed the reply")
	}
	send("Welcome", false, "a") // resent after a crash, before the rest
	send("Menu [1]", true, "a")
	if answered() != -1 {
		t.Fatal("the options message did not complete the reply")
	}
	write(false)
	send("Menu [1]", true, "b") // the last message again, after the person moved on
	if answered() != 1 {
		t.Fatal("a repeat of the previous reply completed the next one")
	}
	send("Lesson [2]", true, "b")
	write(true)
	send("Sorry, only text", false, "b")
	if answered() != -1 {
		t.Fatal("the one line after a photo did not complete the reply")
	}
	write(false)
	send("Sorry, only text", false, "a") // repeat of the photo's line
	send("Lesson [3]", true, "a")

	if got := r.answered.Load(); got != 4 {
		t.Errorf("%d replies complete, want 4", got)
	}
	var firsts, vias []string
	for _, rep := range r.repeats {
		firsts, vias = append(firsts, rep.First), append(vias, rep.Via)
	}
	if len(r.repeats) != 3 || !slices.Equal(firsts, []string{"a", "a", "b"}) || !slices.Equal(vias, []string{"a", "b", "a"}) {
		t.Errorf("repeats %+v, want Welcome (a, again a), Menu (a, again b), Sorry (b, again a)", r.repeats)
	}
	if r.unexpected.Load() != 0 {
		t.Errorf("%d unexpected replies", r.unexpected.Load())
	}
}

func TestSMSOffer(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"What would you like to do?\n1 Know your rights\n2 Talk to a coach", []string{"Know your rights", "Talk to a coach"}},
		{"Your pay is due every month.", nil},
		{"Open from 9 to 5\n2 Menu", nil}, // not numbered from 1
		{"Call 112 in danger.\n1 Continue", []string{"Continue"}},
	} {
		got := smsOffer(c.text)
		if !slices.Equal(got.labels, c.want) || got.present != (len(c.want) > 0) {
			t.Errorf("smsOffer(%q) = %q (present %v), want %q", c.text, got.labels, got.present, c.want)
		}
	}
}
