package flows_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/locales"
)

// FuzzEngineInput runs a person through the shipped content with fuzzed
// messages, button presses and scheduled triggers. Run it with
//
//	go test -run XXX -fuzz FuzzEngineInput -fuzztime 10m -parallel 1 ./flows/
//
// Plain go test runs only the seeds (f.Add and testdata/fuzz/FuzzEngineInput/).
//
// The inputs are:
//   - script: the person's messages, separated by "|";
//   - ops: one byte per message saying what the person did with it (the
//     bytes repeat when there are fewer than messages): its low three bits
//     pick typed text (0-3), a press of a button on offer (4), a press of a
//     made-up button at a prompt near the current one (5), a press of a
//     button Telegram's adapter could not read (6), or a scheduled trigger
//     of a flow (7); the high five bits pick the button, prompt or flow;
//   - start: odd to onboard first in language start/2 (of those shipped).
func FuzzEngineInput(f *testing.F) {
	c, err := content.Load("", "en", "")
	if err != nil {
		f.Fatal(err)
	}
	langs := c.Def.Languages
	flowIDs := make([]string, 0, len(c.Def.Flows))
	for id := range c.Def.Flows {
		flowIDs = append(flowIDs, id)
	}
	sort.Strings(flowIDs)

	typed := []byte{0}
	f.Add("hello", typed, uint8(0))
	f.Add("hi|1|1", typed, uint8(0))
	f.Add("hola|2|1|1|2|[continue]", []byte{0, 0, 0, 0, 0, 4}, uint8(0))
	f.Add("hi|9|3|2|1", typed, uint8(0))
	f.Add("1|2|x|x", []byte{0, 0, 4, 4}, uint8(1))
	f.Add("1|2|banana|7|1", typed, uint8(1))
	f.Add("1|2|menu|1|2", typed, uint8(3))
	f.Add("1|language|3|language|language|1|2", typed, uint8(5))
	f.Add("1|coach|back|delete|yes|delete|x", []byte{0, 0, 4, 0, 4, 0, 4}, uint8(7))
	f.Add("stop|hello|start|menu", typed, uint8(1))
	f.Add("stop|stop|delete|x|hi", []byte{0, 0, 0, 4, 0}, uint8(1))
	f.Add("clear|menu|1|x|x|x|x|x", []byte{0, 0, 0, 4, 4, 4, 4, 4}, uint8(9))
	f.Add("x|x|x|x", []byte{5, 5 | 16<<3, 5 | 17<<3, 5 | 31<<3}, uint8(1))
	f.Add("x|x|x", []byte{6, 4, 6}, uint8(1))
	f.Add("x|x|x|x|x", []byte{7, 4, 4, 7 | 3<<3, 7 | 31<<3}, uint8(1))
	f.Add("  MENÚ |/menu@LifelineBot|Stop!|١|१२|３", typed, uint8(11))
	f.Add("Мне нужна помощь|أحتاج مساعدة|मलाई मद्दत चाहिन्छ|Kailangan ko ng tulong|我需要帮助", typed, uint8(13))
	f.Add("1|3|"+strings.Repeat("Ana ", 200)+"|Ana|42|٤٢|-1|99999999999999999999", typed, uint8(1))
	f.Add("\x00\xff\xfe|\xc0\x80|\ufeff|\u200f1\u200f|"+strings.Repeat("|", 40), typed, uint8(1))
	f.Add(strings.Repeat("language|", 12)+"1|1", typed, uint8(1))
	f.Add(strings.Repeat("1|", 80), []byte{0, 4, 4 | 1<<3, 4 | 2<<3}, uint8(15))

	f.Fuzz(func(t *testing.T, script string, ops []byte, start uint8) {
		r := &engineRun{t: t, c: c, flowIDs: flowIDs, now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
		if start&1 == 1 {
			lang := langs[int(start>>1)%len(langs)]
			r.step("hello", 0)
			r.step(fmt.Sprint(slices.Index(langs, lang)+1), 0)
			r.step("1", 0)
			if r.s.Lang() != lang || r.s.Fields["consent"] != "yes" {
				t.Fatalf("onboarding in %s left %+v", lang, r.s)
			}
		}
		msgs := strings.Split(script, "|")
		if len(msgs) > 64 {
			msgs = msgs[:64]
		}
		for i, m := range msgs {
			var op byte
			if len(ops) > 0 {
				op = ops[i%len(ops)]
			}
			r.step(m, op)
		}
	})
}

// engineRun is one person's conversation.
type engineRun struct {
	t       *testing.T
	c       *content.Content
	flowIDs []string
	s       flows.Session
	now     time.Time
	turns   int
}

// step does what op says with text, as the runtime would, and checks the
// turn.
func (r *engineRun) step(text string, op byte) {
	t, d, s := r.t, r.c.Def, &r.s
	r.turns++
	r.now = r.now.Add(time.Minute)
	// The runtime hands the engine valid UTF-8 (bot.CleanText), but
	// Resolve must not choke on anything.
	flows.Resolve(d, s, text, r.c.Lexicon)
	text = strings.ToValidUTF8(text, "\uFFFD")
	arg := int(op >> 3)

	// What the channel delivered, turned into an Input as in
	// runner.Runtime's turn.
	var choice, flow string
	var prompt int
	switch op & 7 {
	case 4:
		if len(s.Options) > 0 {
			choice, prompt = s.Options[arg%len(s.Options)], s.Prompt
		} else {
			choice, prompt = text, s.Prompt
		}
	case 5:
		choice, prompt = text, s.Prompt+arg-16
	case 6:
		choice, prompt = "?", -1 // telegram.StaleChoice
	case 7:
		flow = r.flowIDs[arg%len(r.flowIDs)]
		if arg == 31 {
			flow = text
		}
	}
	var in flows.Input
	switch {
	case flow != "":
		in = flows.Input{Flow: flow}
	case choice != "" || prompt != 0:
		in = flows.Input{Choice: choice, Prompt: prompt}
	default:
		in = flows.Resolve(d, s, text, r.c.Lexicon)
	}

	before, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	next, outs, effs, steps := flows.StepCounted(d, *s, in, r.now)
	n2, o2, e2 := flows.Step(d, *s, in, r.now)
	if !reflect.DeepEqual(next, n2) || !reflect.DeepEqual(outs, o2) || !reflect.DeepEqual(effs, e2) {
		t.Fatalf("turn %d: StepCounted and Step differ: export_test.go is out of date", r.turns)
	}
	if after, _ := json.Marshal(s); string(after) != string(before) {
		t.Fatalf("turn %d: Step changed its argument", r.turns)
	}
	where := fmt.Sprintf("turn %d (%+v at %s/%s)", r.turns, in, s.Flow, s.Node)

	if steps > flows.MaxSteps {
		t.Errorf("%s: entered %d nodes, over MaxSteps %d", where, steps, flows.MaxSteps)
	}
	r.checkOutputs(where, next, outs)
	r.checkEffects(where, effs)
	r.checkSession(where, *s, next, outs, effs)
	// A confirmed deletion always happens: it is the person's right.
	if s.Overlay == "delete" && in.Choice == flows.OptDeleteYes && (in.Prompt == 0 || in.Prompt == s.Prompt) &&
		!slices.ContainsFunc(effs, func(e flows.Effect) bool { return e.Kind == flows.EffectDelete }) {
		t.Errorf("%s: deletion confirmed but not done (stopped %v): %+v", where, s.Stopped, outs)
	}

	// The store keeps the session as JSON between turns.
	raw, err := json.Marshal(next)
	if err != nil {
		t.Fatalf("%s: marshal session: %v", where, err)
	}
	var back flows.Session
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("%s: unmarshal session: %v", where, err)
	}
	if !sameSession(next, back) {
		t.Fatalf("%s: session changed in a JSON round trip:\n%+v\n%+v", where, next, back)
	}
	r.s = back
}

func (r *engineRun) checkOutputs(where string, next flows.Session, outs []flows.Output) {
	t, cat := r.t, r.c.Catalog
	lang := next.Lang()
	if lang == "" {
		lang = cat.Default()
	}
	for _, o := range outs {
		if o.Msg == flows.MsgLoop {
			t.Errorf("%s: the shipped content looped (%s)", where, o.Msg)
		}
		if cat.Raw(cat.Default(), o.Msg) == "" {
			t.Errorf("%s: message %q is not in the catalog", where, o.Msg)
		}
		if _, err := cat.Text(lang, o.Msg, r.c.Data()); !renders(err) {
			t.Errorf("%s: render %s in %s: %v", where, o.Msg, lang, err)
		}
		if len(o.Options) > 0 && o.Prompt < 1 {
			t.Errorf("%s: options offered at prompt %d", where, o.Prompt)
		}
		seen := map[string]bool{}
		for _, op := range o.Options {
			if op.ID == "" || seen[op.ID] {
				t.Errorf("%s: option id %q empty or repeated in %s", where, op.ID, o.Msg)
			}
			seen[op.ID] = true
			if cat.Raw(cat.Default(), op.Label) == "" {
				t.Errorf("%s: label %q is not in the catalog", where, op.Label)
			}
			l := lang
			if op.Lang != "" {
				l = op.Lang
			}
			if _, err := cat.Text(l, op.Label, nil); !renders(err) {
				t.Errorf("%s: render %s in %s: %v", where, op.Label, l, err)
			}
		}
	}
}

// renders reports whether a catalog error still gave the person a whole
// text: one in the default language stands in for a translation not made
// yet (whether every locale is complete is locales' own test).
func renders(err error) bool {
	return err == nil || errors.Is(err, locales.ErrFallback) && !errors.Is(err, locales.ErrNoValue)
}

func (r *engineRun) checkEffects(where string, effs []flows.Effect) {
	for _, e := range effs {
		if err := flows.ValidateEffect(e); err != nil {
			r.t.Errorf("%s: effect %+v: %v", where, e, err)
		}
	}
}

// maxStack bounds the call stack: the deepest call in the content (menu,
// rights, self-check, a lesson) plus a change of language over it.
const maxStack = 8

func (r *engineRun) checkSession(where string, prev, next flows.Session, outs []flows.Output, effs []flows.Effect) {
	t, d := r.t, r.c.Def
	deleted := slices.ContainsFunc(effs, func(e flows.Effect) bool { return e.Kind == flows.EffectDelete })
	if !next.Seen.Equal(r.now) && !deleted {
		t.Errorf("%s: Seen %v, want %v", where, next.Seen, r.now)
	}
	switch {
	case next.Flow == "":
		// A person not met yet, or one who deleted everything (or
		// stopped before their first message).
		if next.Node != "" || len(next.Stack) > 0 || next.Overlay != "" && !next.Stopped {
			t.Errorf("%s: no flow but node %q, stack %v, overlay %q", where, next.Node, next.Stack, next.Overlay)
		}
		if prev.Flow != "" && !deleted {
			t.Errorf("%s: left flow %s without a deletion", where, prev.Flow)
		}
	default:
		fl := d.Flows[next.Flow]
		if fl == nil || fl.Nodes[next.Node] == nil {
			t.Fatalf("%s: session at %s/%s, which does not exist", where, next.Flow, next.Node)
		}
		switch n := fl.Nodes[next.Node]; n.Kind() {
		case "ask", "input":
		case "say":
			if !n.Continue {
				t.Errorf("%s: session waits at %s/%s, a say node without continue", where, next.Flow, next.Node)
			}
		default:
			t.Errorf("%s: session waits at %s/%s, a %q node", where, next.Flow, next.Node, n.Kind())
		}
	}
	if deleted && (next.Flow != "" || len(next.Fields) > 0 || next.Stopped) {
		t.Errorf("%s: deletion kept %+v", where, next)
	}
	for _, fr := range next.Stack {
		if fl := d.Flows[fr.Flow]; fl == nil || fl.Nodes[fr.Node] == nil {
			t.Errorf("%s: stack frame %s/%s does not exist", where, fr.Flow, fr.Node)
		}
	}
	if len(next.Stack) > maxStack {
		t.Fatalf("%s: stack of %d frames: %v", where, len(next.Stack), next.Stack)
	}
	switch next.Overlay {
	case "", "help", "coach", "delete":
	default:
		t.Errorf("%s: overlay %q", where, next.Overlay)
	}
	if next.Prompt < prev.Prompt && !deleted {
		t.Errorf("%s: prompt went back from %d to %d", where, prev.Prompt, next.Prompt)
	}
	// The options a digit picks are those of the last offer, under the
	// number the buttons carry.
	for i := len(outs) - 1; i >= 0; i-- {
		if len(outs[i].Options) == 0 {
			continue
		}
		var ids []string
		for _, o := range outs[i].Options {
			ids = append(ids, o.ID)
		}
		if !slices.Equal(ids, next.Options) || outs[i].Prompt != next.Prompt {
			// An input prompt said after the offer takes the options away.
			if len(next.Options) > 0 || i == len(outs)-1 {
				t.Errorf("%s: last offer %v at prompt %d, session has %v at %d", where, ids, outs[i].Prompt, next.Options, next.Prompt)
			}
		}
		break
	}
}

// sameSession compares sessions as the store sees them: an empty map or
// slice is the same as none.
func sameSession(a, b flows.Session) bool {
	norm := func(s flows.Session) flows.Session {
		if len(s.Fields) == 0 {
			s.Fields = nil
		}
		if len(s.Stack) == 0 {
			s.Stack = nil
		}
		if len(s.Options) == 0 {
			s.Options = nil
		}
		return s
	}
	a, b = norm(a), norm(b)
	if !a.Seen.Equal(b.Seen) {
		return false
	}
	a.Seen, b.Seen = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}
