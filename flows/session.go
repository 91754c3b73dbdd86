package flows

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Session is one person's place in the conversation. Every field persists
// between turns (WriteSession wraps it in a versioned envelope, which the
// store keeps as bytes); nothing here is scratch. Language and consent live
// in Fields ("lang", "consent") so that flows can set and branch on them
// like any other answer.
type Session struct {
	// Flow and Node name the node the person is answering (a wait point).
	// Both are empty for a person the engine has not met yet.
	Flow string `json:"flow,omitempty"`
	Node string `json:"node,omitempty"`
	// Stack holds where to come back to when a called flow ends.
	Stack []Frame `json:"stack,omitempty"`
	// Fields are values set by flows: language, consent, progress, answers.
	Fields map[string]string `json:"fields,omitempty"`
	// Prompt numbers the options last offered; a button from an older
	// prompt is stale. Options lists their ids in order, so a digit picks one.
	Prompt  int      `json:"prompt,omitempty"`
	Options []string `json:"options,omitempty"`
	// Overlay is a short question shown over the current node (help after
	// two misunderstood answers, delete confirmation, coach requested).
	Overlay string `json:"overlay,omitempty"`
	// Retries counts misunderstood answers in a row at the current node.
	Retries int `json:"retries,omitempty"`
	// Stopped is set by STOP: nothing is sent but the answer to START.
	Stopped bool `json:"stopped,omitempty"`
	// Seen is when the person last wrote.
	Seen time.Time `json:"seen,omitzero"`
}

// Frame is a return address on the call stack.
type Frame struct {
	Flow string `json:"flow"`
	Node string `json:"node"`
}

// Lang returns the person's language, or "" before they chose one.
func (s *Session) Lang() string { return s.Fields["lang"] }

// Clone returns a deep copy, so the engine never changes its argument.
func (s Session) Clone() Session {
	s.Stack = slices.Clone(s.Stack)
	s.Fields = maps.Clone(s.Fields)
	s.Options = slices.Clone(s.Options)
	return s
}

// Output is one message the engine wants sent. Text is rendered later, in
// the person's language, from Msg and Data.
type Output struct {
	Msg  string            `json:"msg"`
	Data map[string]string `json:"data,omitempty"`
	// Options offered with this message, and the prompt they belong to.
	Options []Option `json:"options,omitempty"`
	Prompt  int      `json:"prompt,omitempty"`
}

// Option is a button or numbered choice.
type Option struct {
	ID    string `json:"id"`
	Label string `json:"label"`          // message id
	Lang  string `json:"lang,omitempty"` // render Label in this language
}

// Effect is something the runtime must do after the turn: the engine only
// describes it.
type Effect struct {
	// Kind is one of the Effect* constants.
	Kind     string `yaml:"kind" json:"kind"`
	Reason   string `yaml:"reason,omitempty" json:"reason,omitempty"`
	Priority string `yaml:"priority,omitempty" json:"priority,omitempty"`
	Topic    string `yaml:"topic,omitempty" json:"topic,omitempty"`
	Value    string `yaml:"value,omitempty" json:"value,omitempty"`
}

// Effect kinds.
const (
	EffectEscalate    = "escalate"    // open a case for a coach (Reason, Priority)
	EffectSubscribe   = "subscribe"   // subscribe to Topic (checkins, jobs, reminders)
	EffectUnsubscribe = "unsubscribe" // leave Topic
	EffectSchedule    = "schedule"    // schedule Topic after Value (a Go duration)
	EffectRecord      = "record"      // record an anonymous answer: Topic=Value
	EffectLanguage    = "language"    // the person chose language Value
	EffectStop        = "stop"        // opt out of everything
	EffectStart       = "start"       // opt back in
	EffectDelete      = "delete"      // erase everything about the person
	EffectClear       = "clear"       // clear the chat on the person's phone
	EffectMyData      = "mydata"      // show the person everything kept about them
	EffectSafeWord    = "safeword"    // keep the session field "safeword" as a keyed hash
)

// Priorities for escalations.
const (
	PriorityUrgent = "urgent"
	PriorityNormal = "normal"
	PriorityLow    = "low"
)

func (e Effect) validate() error {
	switch e.Kind {
	case EffectEscalate:
		switch e.Priority {
		case PriorityUrgent, PriorityNormal, PriorityLow:
		default:
			return fmt.Errorf("escalate effect needs priority urgent, normal or low, not %q", e.Priority)
		}
		if e.Reason == "" {
			return fmt.Errorf("escalate effect needs a reason")
		}
	case EffectSubscribe, EffectUnsubscribe, EffectRecord:
		if e.Topic == "" {
			return fmt.Errorf("%s effect needs a topic", e.Kind)
		}
	case EffectSchedule:
		if _, err := time.ParseDuration(e.Value); err != nil || e.Topic == "" {
			return fmt.Errorf("schedule effect needs a topic and a duration value")
		}
	case EffectLanguage, EffectStop, EffectStart, EffectDelete, EffectClear, EffectMyData, EffectSafeWord:
	default:
		return fmt.Errorf("unknown effect kind %q", e.Kind)
	}
	return nil
}
