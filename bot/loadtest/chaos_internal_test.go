package loadtest

import (
	"bytes"
	"os"
	"slices"
	"strings"
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

// TestChaosFailoverAccounting: a lost message or a repeat is laid to a
// failover only when it was at risk at its kill (a message of the killed
// master's people accepted just before it; a send to them in flight), and
// the targets missed say so for the rest.
func TestChaosFailoverAccounting(t *testing.T) {
	r := &chaosRun{start: time.Now()}
	for i := range 3 {
		r.people = append(r.people, &chaosPerson{idx: i, telegram: true, chat: chatBase + int64(i), wake: make(chan struct{}, 1)})
	}
	// Person 0's second message and person 1's first were accepted and
	// never answered; only person 0's was at risk. Person 2's was answered.
	r.people[0].accepted, r.people[0].answered = []bool{true, true}, []time.Time{time.Now(), {}}
	r.people[1].accepted, r.people[1].answered = []bool{true}, []time.Time{{}}
	r.people[2].accepted, r.people[2].answered = []bool{true}, []time.Time{time.Now()}
	r.accepted.Store(4)
	inFlight := delivery{telegram: true, chat: chatBase + 2, content: "Menu"}
	r.faults = []Fault{{Kind: "failover", Target: "master", At: Duration(time.Second), Recovered: true, Rejoined: true,
		InFlight: 1, inFlight: []string{inFlight.key()}, AtRisk: 2, atRisk: []msgRef{{0, 1}, {2, 0}}}}
	r.repeats = []Repeat{
		{At: Duration(2 * time.Second), key: inFlight.key()},
		{At: Duration(3 * time.Second), key: delivery{telegram: true, chat: chatBase + 1, content: "Menu"}.key()},
	}

	res := r.result(nil, "")
	f := res.Faults[0]
	if res.Lost != 2 || res.LostAtRisk != 1 || f.Lost != 1 || res.Answered != 2 {
		t.Errorf("lost %d (%d at risk, %d laid to the failover), answered %d; want 2 (1, 1), 2", res.Lost, res.LostAtRisk, f.Lost, res.Answered)
	}
	if f.Repeated != 2 || f.Unexplained != 1 {
		t.Errorf("failover repeated %d (%d not in flight), want 2 (1)", f.Repeated, f.Unexplained)
	}
	missed := res.Missed()
	if len(missed) != 2 || !strings.Contains(missed[0], "1 accepted messages never got their reply") || !strings.Contains(missed[1], "1 of the 2 repeated messages were not among the sends") {
		t.Errorf("missed %q, want the loss not at risk and the repeat not in flight", missed)
	}

	// A failover whose replies did not all come is excused only by a loss.
	res = &ChaosResult{Accepted: 1, Lost: 1, LostAtRisk: 1, Faults: []Fault{{Kind: "failover", Lost: 1, Rejoined: true}}}
	if m := res.Missed(); len(m) != 0 {
		t.Errorf("a loss at risk missed %q", m)
	}
	res = &ChaosResult{Accepted: 1, Faults: []Fault{{Kind: "failover"}}}
	if m := res.Missed(); len(m) != 2 || !strings.Contains(m[0], "not every reply") || !strings.Contains(m[1], "did not rejoin") {
		t.Errorf("missed %q, want the replies that did not come and the node that did not rejoin", m)
	}
}
