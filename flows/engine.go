package flows

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Intent is a global command that works from any state, in every language.
type Intent string

// Global intents.
const (
	IntentNone     Intent = ""
	IntentMenu     Intent = "menu"
	IntentLanguage Intent = "language"
	IntentCoach    Intent = "coach"
	IntentStop     Intent = "stop"
	IntentStart    Intent = "start"
	IntentDelete   Intent = "delete"
	IntentClear    Intent = "clear"
	IntentMyData   Intent = "mydata"
)

// Intents lists every global intent, in the order menus show them.
var Intents = []Intent{IntentMenu, IntentLanguage, IntentCoach, IntentStop, IntentStart, IntentDelete, IntentClear, IntentMyData}

// Input is one thing the person did, already resolved by Resolve: a global
// intent, a choice among the options on offer, or free text.
type Input struct {
	Text   string
	Choice string
	// Prompt is the prompt a button belonged to; 0 when the choice was
	// typed (it then refers to the options on offer now).
	Prompt int
	Intent Intent
	// Flow, set by the runtime rather than typed, starts that flow (a
	// scheduled check-in); it is ignored for people who stopped messages
	// or have not agreed to the privacy notice.
	Flow string
}

// Option ids the engine itself offers, outside any flow.
const (
	OptContinue  = "continue"
	OptRetry     = "retry"
	OptMenu      = "menu"
	OptCoach     = "coach"
	OptBack      = "back"
	OptDeleteYes = "delete_yes"
)

// Overlays: short questions over the current node.
const (
	overlayHelp   = "help"
	overlayCoach  = "coach"
	overlayDelete = "delete"
)

// Message ids the engine itself sends.
const (
	MsgHint          = "engine.hint"
	MsgHelp          = "engine.help"
	MsgStale         = "engine.stale"
	MsgLoop          = "engine.loop"
	MsgCoachAsked    = "engine.coach_requested"
	MsgStopped       = "engine.stopped"
	MsgStillStopped  = "engine.still_stopped"
	MsgStarted       = "engine.started"
	MsgDeleteConfirm = "engine.delete_confirm"
	MsgDeleted       = "engine.deleted"
	MsgDeleteKept    = "engine.delete_cancelled"
	MsgClearNoop     = "engine.clear_done"
)

// Labels of the options the engine itself offers.
const (
	LabelContinue  = "opt.continue"
	LabelRetry     = "opt.retry"
	LabelMenu      = "opt.menu"
	LabelCoach     = "opt.coach"
	LabelBack      = "opt.back"
	LabelDeleteYes = "opt.delete_yes"
	LabelYes       = "opt.yes"
	LabelNo        = "opt.no"
	LabelLangName  = "lang.name"
)

// EngineMessages lists every message id the engine sends on its own, for
// content checks.
var EngineMessages = []string{
	MsgHint, MsgHelp, MsgStale, MsgLoop, MsgCoachAsked, MsgStopped, MsgStillStopped,
	MsgStarted, MsgDeleteConfirm, MsgDeleted, MsgDeleteKept, MsgClearNoop,
	LabelContinue, LabelRetry, LabelMenu, LabelCoach, LabelBack, LabelDeleteYes,
	LabelYes, LabelNo, LabelLangName,
}

// MaxSteps bounds the nodes one turn may enter, so a loop in content ends.
const MaxSteps = 64

// MaxTextLen is the default limit for free-text answers, in characters.
const MaxTextLen = 500

// Step runs one turn: it applies in to s and moves through the flows until
// the person must act again. It does no I/O and reads no clock: now is the
// time of the input. s is not changed; the new session is returned.
func Step(d *Definition, s Session, in Input, now time.Time) (Session, []Output, []Effect) {
	t := &turn{d: d, s: s.Clone()}
	if t.s.Fields == nil {
		t.s.Fields = map[string]string{}
	}
	t.s.Seen = now
	t.handle(in)
	return t.s, t.out, t.eff
}

type turn struct {
	d     *Definition
	s     Session
	out   []Output
	eff   []Effect
	steps int
}

func (t *turn) say(msg string) { t.out = append(t.out, Output{Msg: msg}) }

func (t *turn) effect(e Effect) { t.eff = append(t.eff, e) }

// offer sends msg with options and starts a new prompt.
func (t *turn) offer(msg string, opts []Option) {
	t.s.Prompt++
	t.s.Options = t.s.Options[:0]
	for _, o := range opts {
		t.s.Options = append(t.s.Options, o.ID)
	}
	t.out = append(t.out, Output{Msg: msg, Options: opts, Prompt: t.s.Prompt})
}

func (t *turn) consented() bool { return t.s.Fields["consent"] == "yes" }

func (t *turn) handle(in Input) {
	s := &t.s
	if in.Flow != "" {
		if s.Stopped || s.Flow == "" || !t.consented() || t.d.Flows[in.Flow] == nil {
			return
		}
		s.Stack = nil
		s.Overlay, s.Retries = "", 0
		t.enterFlow(in.Flow)
		return
	}
	if s.Stopped {
		if s.Overlay == overlayDelete && in.Intent == IntentNone {
			// A stopped person may still confirm erasing their data.
			t.overlay(in)
			return
		}
		switch in.Intent {
		case IntentStart:
			s.Stopped = false
			t.effect(Effect{Kind: EffectStart})
			t.say(MsgStarted)
			t.menu()
		case IntentDelete:
			t.askDelete()
		case IntentStop:
			// Already stopped: say nothing more.
		default:
			t.say(MsgStillStopped)
		}
		return
	}
	if s.Flow == "" {
		switch in.Intent {
		case IntentStop:
			t.stop()
		default:
			t.enterFlow(FlowOnboarding)
		}
		return
	}
	switch in.Intent {
	case IntentMenu, IntentStart:
		if in.Intent == IntentStart && !t.consented() {
			t.present()
			return
		}
		t.menu()
		return
	case IntentLanguage:
		s.Overlay, s.Retries = "", 0
		if s.Flow != FlowLanguage {
			// Asked again while choosing: start over, with one way back
			// (a frame each time would ask again for every one).
			s.Stack = append(s.Stack, Frame{Flow: s.Flow, Node: s.Node})
		}
		t.enterFlow(FlowLanguage)
		return
	case IntentCoach:
		t.coach()
		return
	case IntentStop:
		t.stop()
		return
	case IntentDelete:
		t.askDelete()
		return
	case IntentClear:
		t.effect(Effect{Kind: EffectClear})
		return
	case IntentMyData:
		// The runtime writes the summary (it knows the profile too); the
		// person then carries on where they were.
		t.effect(Effect{Kind: EffectMyData})
		t.present()
		return
	}
	if in.Choice != "" && in.Prompt != 0 && in.Prompt != s.Prompt {
		t.say(MsgStale)
		t.present()
		return
	}
	if s.Overlay != "" {
		if t.overlay(in) {
			return
		}
	}
	t.answer(in)
}

func (t *turn) stop() {
	t.s.Stopped = true
	t.s.Overlay = ""
	t.effect(Effect{Kind: EffectStop})
	t.say(MsgStopped)
}

func (t *turn) coach() {
	t.effect(Effect{Kind: EffectEscalate, Reason: "asked", Priority: PriorityNormal})
	t.s.Overlay = overlayCoach
	t.offer(MsgCoachAsked, []Option{{ID: OptBack, Label: LabelBack}, {ID: OptMenu, Label: LabelMenu}})
}

func (t *turn) askDelete() {
	t.s.Overlay = overlayDelete
	t.offer(MsgDeleteConfirm, []Option{{ID: OptDeleteYes, Label: LabelDeleteYes}, {ID: OptBack, Label: LabelBack}})
}

// overlay handles an answer to an overlay question. It reports false when
// the input should be taken as an answer to the node underneath instead.
func (t *turn) overlay(in Input) bool {
	s := &t.s
	ov := s.Overlay
	s.Overlay = ""
	switch {
	case in.Choice == OptDeleteYes && ov == overlayDelete:
		t.effect(Effect{Kind: EffectDelete})
		t.s = Session{Fields: map[string]string{}, Seen: t.s.Seen}
		t.say(MsgDeleted)
		return true
	case ov == overlayDelete:
		t.say(MsgDeleteKept)
		if s.Stopped {
			return true
		}
		t.present()
		return true
	case in.Choice == OptBack || in.Choice == OptRetry:
		s.Retries = 0
		t.present()
		return true
	case in.Choice == OptMenu:
		t.menu()
		return true
	case in.Choice == OptCoach:
		t.coach()
		return true
	}
	if ov == overlayHelp {
		// Keep offering help until an answer is understood.
		s.Overlay = ov
	}
	return false
}

// answer takes in as the answer to the current node.
func (t *turn) answer(in Input) {
	s := &t.s
	n := t.node()
	if n == nil {
		// The content changed under this session: start again at the menu.
		t.menu()
		return
	}
	switch n.Kind() {
	case "ask":
		if n.ChoicesFrom == "languages" {
			for _, l := range t.d.Languages {
				if in.Choice == l {
					s.Fields["lang"] = l
					t.effect(Effect{Kind: EffectLanguage, Value: l})
					t.accepted()
					t.enter(s.Flow, n.Next)
					return
				}
			}
			t.invalid(n)
			return
		}
		for _, c := range n.Choices {
			if c.ID == in.Choice && c.offered(s.Fields) {
				t.accepted()
				if c.Intent != "" {
					t.handle(Input{Intent: c.Intent})
					return
				}
				t.apply(c.Set, c.Effects)
				t.enter(s.Flow, c.Next)
				return
			}
		}
		t.invalid(n)
	case "input":
		if v, ok := validate(n.Input, in); ok {
			s.Fields[n.Input.Field] = v
			t.accepted()
			t.enter(s.Flow, n.Next)
			return
		}
		t.invalid(n)
	case "say":
		// A paused run of messages: any answer continues.
		t.accepted()
		t.enter(s.Flow, n.Next)
	default:
		t.menu()
	}
}

func (t *turn) accepted() {
	t.s.Retries = 0
	t.s.Overlay = ""
}

func (t *turn) invalid(n *Node) {
	s := &t.s
	s.Retries++
	if s.Retries == 1 {
		hint := n.Hint
		if hint == "" {
			hint = MsgHint
		}
		t.say(hint)
		t.present()
		return
	}
	s.Overlay = overlayHelp
	t.offer(MsgHelp, []Option{
		{ID: OptRetry, Label: LabelRetry},
		{ID: OptMenu, Label: LabelMenu},
		{ID: OptCoach, Label: LabelCoach},
	})
}

func (t *turn) node() *Node {
	f := t.d.Flows[t.s.Flow]
	if f == nil {
		return nil
	}
	return f.Nodes[t.s.Node]
}

// menu takes the person to the main menu, or back into onboarding when they
// have not agreed to the privacy notice yet.
func (t *turn) menu() {
	t.s.Stack = nil
	t.s.Overlay, t.s.Retries = "", 0
	if !t.consented() {
		t.enterFlow(FlowOnboarding)
		return
	}
	t.enterFlow(FlowMenu)
}

// present shows the current node again.
func (t *turn) present() {
	n := t.node()
	if n == nil {
		t.menu()
		return
	}
	t.show(n)
}

func (t *turn) enterFlow(id string) {
	f := t.d.Flows[id]
	if f == nil {
		t.say(MsgLoop)
		return
	}
	t.enter(id, f.Start)
}

// enter moves to node id of flow and runs until the person must act.
func (t *turn) enter(flow, id string) {
	s := &t.s
	for {
		t.steps++
		if t.steps > MaxSteps {
			// Broken content: say so kindly and wait at the menu's start
			// without running it again in this turn.
			t.say(MsgLoop)
			s.Flow, s.Node, s.Stack = FlowMenu, t.d.Flows[FlowMenu].Start, nil
			return
		}
		f := t.d.Flows[flow]
		var n *Node
		if f != nil {
			n = f.Nodes[id]
		}
		if n == nil {
			if flow == FlowMenu {
				t.say(MsgLoop)
				return
			}
			flow, id = FlowMenu, t.d.Flows[FlowMenu].Start
			s.Stack = nil
			continue
		}
		s.Flow, s.Node = flow, id
		t.apply(n.Set, n.Effects)
		switch n.Kind() {
		case "say":
			if n.Continue {
				t.show(n)
				return
			}
			for _, m := range n.Say {
				t.say(m)
			}
			id = n.Next
		case "ask", "input":
			t.show(n)
			return
		case "set":
			id = n.Next
		case "branch":
			next, ok := n.Branch.Cases[s.Fields[n.Branch.Field]]
			if !ok {
				next = n.Branch.Default
			}
			id = next
		case "call":
			s.Stack = append(s.Stack, Frame{Flow: flow, Node: n.Next})
			flow = n.Call
			id = t.d.Flows[flow].startOrEmpty()
		case "end":
			if k := len(s.Stack); k > 0 {
				fr := s.Stack[k-1]
				s.Stack = s.Stack[:k-1]
				flow, id = fr.Flow, fr.Node
				continue
			}
			if flow == FlowMenu {
				t.say(MsgLoop)
				return
			}
			flow, id = t.menuFlow()
		default:
			flow, id = t.menuFlow()
		}
	}
}

func (t *turn) menuFlow() (string, string) {
	if !t.consented() {
		return FlowOnboarding, t.d.Flows[FlowOnboarding].Start
	}
	return FlowMenu, t.d.Flows[FlowMenu].Start
}

func (f *Flow) startOrEmpty() string {
	if f == nil {
		return ""
	}
	return f.Start
}

// show sends a waiting node's message and options.
func (t *turn) show(n *Node) {
	switch n.Kind() {
	case "say":
		for _, m := range n.Say[:len(n.Say)-1] {
			t.say(m)
		}
		t.offer(n.Say[len(n.Say)-1], []Option{{ID: OptContinue, Label: LabelContinue}})
	case "ask":
		t.offer(n.Ask, t.d.Options(n, t.s.Fields))
	case "input":
		if n.Input.Kind == "yesno" {
			t.offer(n.Input.Prompt, []Option{{ID: "yes", Label: LabelYes}, {ID: "no", Label: LabelNo}})
			return
		}
		t.s.Options = nil
		t.say(n.Input.Prompt)
	default:
		t.menu()
	}
}

func (t *turn) apply(set map[string]string, effects []Effect) {
	for k, v := range set {
		t.s.Fields[k] = v
	}
	t.eff = append(t.eff, effects...)
}

// Options returns the options node n offers to a session with these
// fields (a choice with an if is left out while its field is empty).
func (d *Definition) Options(n *Node, fields map[string]string) []Option {
	if n.ChoicesFrom == "languages" {
		opts := make([]Option, 0, len(d.Languages))
		for _, l := range d.Languages {
			opts = append(opts, Option{ID: l, Label: LabelLangName, Lang: l})
		}
		return opts
	}
	opts := make([]Option, 0, len(n.Choices))
	for _, c := range n.Choices {
		if c.offered(fields) {
			opts = append(opts, Option{ID: c.ID, Label: c.Label})
		}
	}
	return opts
}

// OnOffer returns the options the person can pick now, for resolving a typed
// digit or word: an overlay's options, or the current node's.
func (d *Definition) OnOffer(s *Session) []Option {
	switch s.Overlay {
	case overlayHelp:
		return []Option{{ID: OptRetry, Label: LabelRetry}, {ID: OptMenu, Label: LabelMenu}, {ID: OptCoach, Label: LabelCoach}}
	case overlayCoach:
		return []Option{{ID: OptBack, Label: LabelBack}, {ID: OptMenu, Label: LabelMenu}}
	case overlayDelete:
		return []Option{{ID: OptDeleteYes, Label: LabelDeleteYes}, {ID: OptBack, Label: LabelBack}}
	}
	f := d.Flows[s.Flow]
	if f == nil || f.Nodes[s.Node] == nil {
		return nil
	}
	n := f.Nodes[s.Node]
	switch n.Kind() {
	case "ask":
		return d.Options(n, s.Fields)
	case "say":
		if n.Continue {
			return []Option{{ID: OptContinue, Label: LabelContinue}}
		}
	case "input":
		if n.Input.Kind == "yesno" {
			return []Option{{ID: "yes", Label: LabelYes}, {ID: "no", Label: LabelNo}}
		}
	}
	return nil
}

// validate checks a free-text answer and returns the value to keep.
func validate(spec *InputSpec, in Input) (string, bool) {
	switch spec.Kind {
	case "yesno":
		if in.Choice == "yes" || in.Choice == "no" {
			return in.Choice, true
		}
		return "", false
	case "number":
		n, err := strconv.Atoi(FoldDigits(strings.TrimSpace(in.Text)))
		if err != nil {
			return "", false
		}
		if (spec.Min != 0 || spec.Max != 0) && (n < spec.Min || n > spec.Max) {
			return "", false
		}
		return strconv.Itoa(n), true
	case "text":
		v := strings.TrimSpace(in.Text)
		hi := spec.Max
		if hi == 0 {
			hi = MaxTextLen
		}
		l := utf8.RuneCountInString(v)
		if l < max(spec.Min, 1) || l > hi {
			return "", false
		}
		return v, true
	}
	return "", false
}
