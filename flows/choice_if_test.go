package flows

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// topicsFlow offers topics that depend on earlier answers: "a" always,
// "b" only when the field t.b is set, "c" only when t.c is set.
const topicsFlow = `id: topics
start: ask
nodes:
  ask:
    ask: t.topics
    choices:
      - {id: a, label: t.a, next: done}
      - {id: b, label: t.b, next: done, if: t.b, effects: [{kind: record, topic: picked, value: b}]}
      - {id: c, label: t.c, next: done, if: t.c, effects: [{kind: record, topic: picked, value: c}]}
  done:
    say: [t.done]
    next: ask
`

func topicsDef(t *testing.T, flow string) *Definition {
	t.Helper()
	d, err := Load(fstest.MapFS{"topics.yaml": {Data: []byte(flow)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func atTopics(t *testing.T, d *Definition, fields map[string]string) (Session, []Output) {
	t.Helper()
	fields["consent"] = "yes"
	s := Session{Flow: "topics", Node: "ask", Fields: fields}
	next, outs, _ := Step(d, s, Input{Flow: "topics"}, time.Now())
	return next, outs
}

func optionIDs(opts []Option) string {
	var ids []string
	for _, o := range opts {
		ids = append(ids, o.ID)
	}
	return strings.Join(ids, ",")
}

// TestChoiceIf shows a choice with an if is offered, numbered and accepted
// only while its field is set.
func TestChoiceIf(t *testing.T) {
	d := topicsDef(t, topicsFlow)
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{"none set", map[string]string{}, "a"},
		{"one set", map[string]string{"t.c": "yes"}, "a,c"},
		{"both set", map[string]string{"t.b": "yes", "t.c": "yes"}, "a,b,c"},
		{"empty value is unset", map[string]string{"t.b": ""}, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, outs := atTopics(t, d, tc.fields)
			if len(outs) != 1 || optionIDs(outs[0].Options) != tc.want {
				t.Fatalf("offered %+v, want [%s]", outs, tc.want)
			}
			if got := optionIDs(d.OnOffer(&s)); got != tc.want {
				t.Errorf("on offer [%s], want [%s]", got, tc.want)
			}
			if got := strings.Join(s.Options, ","); got != tc.want {
				t.Errorf("session options [%s], want [%s]", got, tc.want)
			}
		})
	}
	t.Run("a digit counts the options shown", func(t *testing.T) {
		s, _ := atTopics(t, d, map[string]string{"t.c": "yes"})
		in := Resolve(d, &s, "2", testLex)
		if in.Choice != "c" {
			t.Fatalf("2 resolved to %+v, want choice c", in)
		}
		_, _, effs := Step(d, s, in, time.Now())
		if len(effs) != 1 || effs[0].Value != "c" {
			t.Errorf("effects %+v, want the record of c", effs)
		}
	})
	t.Run("a hidden choice is not accepted", func(t *testing.T) {
		s, _ := atTopics(t, d, map[string]string{"t.c": "yes"})
		next, outs, effs := Step(d, s, Input{Choice: "b", Prompt: s.Prompt}, time.Now())
		if len(effs) != 0 || next.Node != "ask" || len(outs) == 0 || outs[0].Msg != MsgHint {
			t.Errorf("hidden b: node %s, outputs %+v, effects %+v; want the hint and no effect", next.Node, outs, effs)
		}
	})
}

// allMessages is a MessageChecker that knows every message.
type allMessages struct{}

func (allMessages) Missing(string) []string { return nil }
func (allMessages) Vars(string) []string    { return nil }

// TestCheckChoiceIf: an ask whose every choice has an if could offer
// nothing, and the check says so.
func TestCheckChoiceIf(t *testing.T) {
	only := strings.Replace(topicsFlow, "{id: a, label: t.a, next: done}", "{id: a, label: t.a, next: done, if: t.a}", 1)
	for _, tc := range []struct {
		flow string
		bad  bool
	}{{topicsFlow, false}, {only, true}} {
		d := topicsDef(t, tc.flow)
		found := false
		for _, p := range d.Check(allMessages{}, nil) {
			if p.Node == "ask" && strings.Contains(p.Reason, "every choice has an if") {
				found = true
			}
		}
		if found != tc.bad {
			t.Errorf("problem reported %v, want %v", found, tc.bad)
		}
	}
}
