package flows

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/lifeline-org/lifeline/flows/overlay"
)

// Definition is the immutable set of flows the engine runs. It is built once
// at start-up and shared by every turn.
type Definition struct {
	// Flows by id.
	Flows map[string]*Flow
	// Sources maps a flow id to the file it came from, for error messages.
	Sources map[string]string
	// Languages are the shipped language tags, in menu order.
	Languages []string
}

// Well-known flow ids the engine jumps to for global intents.
const (
	FlowOnboarding = "onboarding"
	FlowMenu       = "menu"
	FlowLanguage   = "language"
)

// Flow is one conversation: a set of nodes and the node it starts at.
type Flow struct {
	ID    string           `yaml:"id"`
	Title string           `yaml:"title"` // message id naming the flow in menus
	Start string           `yaml:"start"`
	Nodes map[string]*Node `yaml:"nodes"`
	// Guideline names the section of the ILO guidelines on economic
	// reintegration the flow draws on ("3f.4"). Metadata for content
	// reviewers, never shown to people; required of every lesson_* flow
	// (content.Check).
	Guideline string `yaml:"guideline,omitempty"`
}

// Node is one step of a flow. Exactly one of Say, Ask, Input, Branch, Call or
// End gives the node its kind; Set and Effects may accompany any kind and are
// applied when the node is entered.
type Node struct {
	ID string `yaml:"-"`

	// Say sends these messages in order, then goes to Next. With Continue
	// the last message carries a single "continue" button and the person
	// must press it (or write anything) before Next.
	Say      []string `yaml:"say,omitempty"`
	Continue bool     `yaml:"continue,omitempty"`

	// Ask sends one message with Choices as options and waits.
	Ask     string   `yaml:"ask,omitempty"`
	Choices []Choice `yaml:"choices,omitempty"`
	// ChoicesFrom fills the choices at run time; "languages" offers every
	// shipped language, each labelled in its own name.
	ChoicesFrom string `yaml:"choices_from,omitempty"`

	// Input sends Prompt and waits for free text that passes validation.
	Input *InputSpec `yaml:"input,omitempty"`

	// Branch goes to the node named by the value of a session field.
	Branch *Branch `yaml:"branch,omitempty"`

	// Call runs another flow and comes back to Next when it ends.
	Call string `yaml:"call,omitempty"`

	// End finishes this flow: back to the caller, or to the main menu.
	End bool `yaml:"end,omitempty"`

	// Hint is the message id shown once when the answer is not understood.
	Hint string `yaml:"hint,omitempty"`

	Set     map[string]string `yaml:"set,omitempty"`
	Effects []Effect          `yaml:"effects,omitempty"`
	Next    string            `yaml:"next,omitempty"`
}

// Choice is one option of an Ask node.
type Choice struct {
	ID      string            `yaml:"id"`
	Label   string            `yaml:"label"` // message id
	Next    string            `yaml:"next"`
	Set     map[string]string `yaml:"set,omitempty"`
	Effects []Effect          `yaml:"effects,omitempty"`
	// Intent, instead of Next, runs a global intent (stop, delete, clear,
	// language, coach), exactly as if the person had typed its keyword.
	Intent Intent `yaml:"intent,omitempty"`
	// If names a session field: the choice is offered only while that
	// field is not empty (a topic that fits the person's answers).
	If string `yaml:"if,omitempty"`
}

// offered reports whether the choice is on offer with these fields.
func (c *Choice) offered(fields map[string]string) bool {
	return c.If == "" || fields[c.If] != ""
}

// InputSpec describes validated free text.
type InputSpec struct {
	Prompt string `yaml:"prompt"` // message id
	Kind   string `yaml:"kind"`   // number, yesno or text
	Min    int    `yaml:"min,omitempty"`
	Max    int    `yaml:"max,omitempty"`
	Field  string `yaml:"field"` // session field that receives the answer
}

// Branch picks the next node from a session field's value.
type Branch struct {
	Field   string            `yaml:"field"`
	Cases   map[string]string `yaml:"cases"`
	Default string            `yaml:"default"`
}

// Kind names what a node does.
func (n *Node) Kind() string {
	var kinds []string
	if len(n.Say) > 0 {
		kinds = append(kinds, "say")
	}
	if n.Ask != "" {
		kinds = append(kinds, "ask")
	}
	if n.Input != nil {
		kinds = append(kinds, "input")
	}
	if n.Branch != nil {
		kinds = append(kinds, "branch")
	}
	if n.Call != "" {
		kinds = append(kinds, "call")
	}
	if n.End {
		kinds = append(kinds, "end")
	}
	switch len(kinds) {
	case 0:
		if len(n.Set) > 0 || len(n.Effects) > 0 {
			return "set"
		}
		return ""
	case 1:
		return kinds[0]
	}
	return strings.Join(kinds, "+")
}

// Load reads every *.yaml flow file in base, then lets files of the same
// name in override (which may be nil) replace them and new files add flows.
func Load(base, override fs.FS) (*Definition, error) {
	files := map[string][]byte{}
	err := overlay.Read(base, override, func(name string, data []byte) error {
		files[name] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(files))
	def := &Definition{Flows: map[string]*Flow{}, Sources: map[string]string{}}
	for _, name := range names {
		var f Flow
		if err := overlay.Decode(files[name], &f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if f.ID == "" {
			f.ID = overlay.Stem(name)
		}
		if prev, ok := def.Sources[f.ID]; ok {
			return nil, fmt.Errorf("%s: flow %q already defined in %s", name, f.ID, prev)
		}
		for id, n := range f.Nodes {
			if n == nil {
				return nil, fmt.Errorf("%s:%s: empty node", name, id)
			}
			n.ID = id
		}
		def.Flows[f.ID] = &f
		def.Sources[f.ID] = name
	}
	return def, nil
}

// Problem is one thing wrong with content, located as file:node.
type Problem struct {
	File, Node, Reason string
	Warning            bool
}

func (p Problem) String() string {
	loc := p.File
	if p.Node != "" {
		loc += ":" + p.Node
	}
	if p.Warning {
		return loc + ": warning: " + p.Reason
	}
	return loc + ": " + p.Reason
}

// MessageChecker answers whether a message id exists in every locale and
// which template variables it uses.
type MessageChecker interface {
	// Missing lists the locales in which id is absent.
	Missing(id string) []string
	// Vars lists the template variables id uses, in any locale.
	Vars(id string) []string
}

// maxSayRun is how many messages may follow each other without a button.
const maxSayRun = 3

// Check validates the definition: every node kind is clear, every target
// exists, every node is reachable, every message id is present in every
// locale and every template variable is supplied by vars.
func (d *Definition) Check(msgs MessageChecker, vars map[string]bool) []Problem {
	var probs []Problem
	for _, id := range []string{FlowOnboarding, FlowMenu, FlowLanguage} {
		if d.Flows[id] == nil {
			probs = append(probs, Problem{File: "flows", Reason: fmt.Sprintf("required flow %q is missing", id)})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(d.Flows)) {
		probs = append(probs, d.checkFlow(d.Flows[id], msgs, vars)...)
	}
	return probs
}

func (d *Definition) checkFlow(f *Flow, msgs MessageChecker, vars map[string]bool) []Problem {
	file := d.Sources[f.ID]
	var probs []Problem
	bad := func(node, format string, args ...any) {
		probs = append(probs, Problem{File: file, Node: node, Reason: fmt.Sprintf(format, args...)})
	}
	msg := func(node, id string) {
		if id == "" {
			return
		}
		if missing := msgs.Missing(id); len(missing) > 0 {
			bad(node, "message id %q missing in %s", id, strings.Join(missing, ", "))
			return
		}
		for _, v := range msgs.Vars(id) {
			if !vars[v] {
				bad(node, "message %q uses template variable {{.%s}} that nothing supplies", id, v)
			}
		}
	}
	target := func(node, next string) {
		if next == "" {
			bad(node, "no next node")
		} else if f.Nodes[next] == nil {
			bad(node, "target %q does not exist", next)
		}
	}
	if f.Nodes[f.Start] == nil {
		bad("", "start node %q does not exist", f.Start)
	}
	if f.Title != "" {
		msg("", f.Title)
	}
	nodeIDs := slices.Sorted(maps.Keys(f.Nodes))
	for _, id := range nodeIDs {
		n := f.Nodes[id]
		switch k := n.Kind(); k {
		case "say":
			for _, m := range n.Say {
				msg(id, m)
			}
			target(id, n.Next)
		case "ask":
			msg(id, n.Ask)
			if len(n.Choices) == 0 && n.ChoicesFrom == "" {
				bad(id, "ask without choices")
			}
			if n.ChoicesFrom != "" && n.ChoicesFrom != "languages" {
				bad(id, "unknown choices_from %q", n.ChoicesFrom)
			}
			seen := map[string]bool{}
			always := 0
			for _, c := range n.Choices {
				if c.If == "" {
					always++
				}
				if c.ID == "" || seen[c.ID] {
					bad(id, "choice id %q is empty or repeated", c.ID)
				}
				seen[c.ID] = true
				if c.Label == "" {
					bad(id, "choice %q has no label", c.ID)
				}
				msg(id, c.Label)
				if c.Intent != "" {
					if !slices.Contains(Intents, c.Intent) || c.Next != "" {
						bad(id, "choice %q: intent %q is unknown or has a next node too", c.ID, c.Intent)
					}
					continue
				}
				target(id, c.Next)
			}
			if n.ChoicesFrom != "" {
				target(id, n.Next)
			}
			if len(n.Choices) > 0 && always == 0 {
				bad(id, "every choice has an if: give at least one choice without, so something is always on offer")
			}
		case "input":
			msg(id, n.Input.Prompt)
			switch n.Input.Kind {
			case "number", "yesno", "text":
			default:
				bad(id, "unknown input kind %q", n.Input.Kind)
			}
			if n.Input.Field == "" {
				bad(id, "input without a field")
			}
			target(id, n.Next)
		case "branch":
			if n.Branch.Field == "" {
				bad(id, "branch without a field")
			}
			for _, t := range n.Branch.Cases {
				target(id, t)
			}
			target(id, n.Branch.Default)
		case "call":
			if d.Flows[n.Call] == nil {
				bad(id, "called flow %q does not exist", n.Call)
			}
			target(id, n.Next)
		case "set":
			target(id, n.Next)
		case "end":
		case "":
			bad(id, "node does nothing: give it say, ask, input, branch, set, call or end")
		default:
			bad(id, "node has several kinds (%s): give it one", k)
		}
		msg(id, n.Hint)
		for _, e := range n.Effects {
			if err := e.validate(); err != nil {
				bad(id, "%v", err)
			}
		}
		for _, c := range n.Choices {
			for _, e := range c.Effects {
				if err := e.validate(); err != nil {
					bad(id, "choice %q: %v", c.ID, err)
				}
			}
		}
	}
	// Reachability, and runs of messages without a button.
	reach := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		n := f.Nodes[id]
		if n == nil || reach[id] {
			return
		}
		reach[id] = true
		for _, next := range n.targets() {
			walk(next)
		}
	}
	walk(f.Start)
	for _, id := range nodeIDs {
		if !reach[id] {
			bad(id, "node is unreachable from start %q", f.Start)
		}
		if run := d.sayRun(f, id, map[string]bool{}); run > maxSayRun && f.Nodes[id].Kind() == "say" {
			bad(id, "%d messages in a row without a button (at most %d): add continue: true", run, maxSayRun)
		}
	}
	return probs
}

// sayRun counts the messages sent from node id before the person must act.
func (d *Definition) sayRun(f *Flow, id string, seen map[string]bool) int {
	n := f.Nodes[id]
	if n == nil || seen[id] {
		return 0
	}
	seen[id] = true
	switch n.Kind() {
	case "say":
		if n.Continue {
			return len(n.Say)
		}
		return len(n.Say) + d.sayRun(f, n.Next, seen)
	case "ask", "input":
		return 1
	case "set":
		return d.sayRun(f, n.Next, seen)
	}
	return 0
}

func (n *Node) targets() []string {
	var t []string
	if n.Next != "" {
		t = append(t, n.Next)
	}
	for _, c := range n.Choices {
		if c.Next != "" {
			t = append(t, c.Next)
		}
	}
	if n.Branch != nil {
		for _, v := range n.Branch.Cases {
			t = append(t, v)
		}
		t = append(t, n.Branch.Default)
	}
	return t
}
