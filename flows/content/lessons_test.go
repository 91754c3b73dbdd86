package content_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
)

// walk starts flow for a consented person in lang and answers each question
// with choose (given the node and its option ids), rendering the whole
// conversation; it stops when the flow is left. The session goes through
// JSON between turns.
func walk(t *testing.T, c *content.Content, lang, flow string, choose func(node string, opts []string) string) (string, []flows.Effect) {
	t.Helper()
	var b strings.Builder
	var all []flows.Effect
	s := flows.Session{Flow: flows.FlowMenu, Node: c.Def.Flows[flows.FlowMenu].Start, Fields: map[string]string{"lang": lang, "consent": "yes"}}
	in := flows.Input{Flow: flow}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for turn := 0; turn < 60; turn++ {
		next, outs, effs := flows.Step(c.Def, s, in, now)
		all = append(all, effs...)
		renderTurn(t, &b, c, lang, outs, effs)
		s = roundTrip(t, next)
		if s.Flow != flow {
			return b.String(), all
		}
		opts := c.Def.OnOffer(&s)
		var ids []string
		for _, o := range opts {
			ids = append(ids, o.ID)
		}
		pick := choose(s.Node, ids)
		fmt.Fprintf(&b, "> [%s]\n", pick)
		in = flows.Input{Choice: pick, Prompt: s.Prompt}
		now = now.Add(time.Minute)
	}
	t.Fatalf("%s did not end within 60 turns", flow)
	return "", nil
}

// learner goes through a lesson: continue, begin, then the first real
// answer to a quiz, then done.
func learner(_ string, opts []string) string {
	for _, want := range []string{"continue", "begin", "done"} {
		for _, o := range opts {
			if o == want {
				return o
			}
		}
	}
	for _, o := range opts {
		switch o {
		case "skip", "skip_topic", "skip_question", "pause", "coach", "menu", "later":
			continue
		}
		return o
	}
	return opts[0]
}

// golden compares a transcript with testdata/transcripts/<name>.txt, or
// writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "transcripts", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./flows/content -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("transcript %s differs from %s (go test -update rewrites it):\n%s", name, path, diff(string(want), got))
	}
}

// TestEveryLesson runs every lesson to its end in English and Spanish.
func TestEveryLesson(t *testing.T) {
	c := load(t)
	lessons := lessonIDs(c)
	if len(lessons) < 8 {
		t.Fatalf("want at least 8 lessons, have %v", lessons)
	}
	for _, lesson := range lessons {
		for _, lang := range []string{"en", "es"} {
			t.Run(lesson+"."+lang, func(t *testing.T) {
				got, effs := walk(t, c, lang, lesson, learner)
				done := false
				for _, e := range effs {
					done = done || e.Kind == flows.EffectRecord && e.Topic == "lesson_done"
				}
				if !done {
					t.Errorf("%s ended without recording lesson_done", lesson)
				}
				golden(t, "walk."+lesson+"."+lang, got)
			})
		}
	}
}

// answers returns a self-check respondent who says yes to the named signs
// and no to the rest.
func answers(yes ...string) func(string, []string) string {
	return func(node string, opts []string) string {
		if sign, ok := strings.CutPrefix(node, "q_"); ok {
			for _, y := range yes {
				if y == sign {
					return "yes"
				}
			}
			return "no"
		}
		return learner(node, opts)
	}
}

// TestSelfCheck walks the self-check three ways: no signs, some signs, and
// danger signs (an urgent case is asked for).
func TestSelfCheck(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		name    string
		yes     []string
		urgent  bool
		anySign bool
	}{
		{"none", nil, false, false},
		{"some", []string{"wages", "documents"}, false, true},
		{"danger", []string{"violence", "debt"}, true, true},
	} {
		for _, lang := range []string{"en", "fr"} {
			t.Run(tc.name+"."+lang, func(t *testing.T) {
				got, effs := walk(t, c, lang, "selfcheck", answers(tc.yes...))
				urgent, signs := false, 0
				for _, e := range effs {
					urgent = urgent || e.Kind == flows.EffectEscalate && e.Priority == flows.PriorityUrgent
					if e.Kind == flows.EffectRecord && e.Topic == "selfcheck_sign" {
						signs++
					}
				}
				if urgent != tc.urgent || signs != len(tc.yes) {
					t.Errorf("urgent %v (want %v), %d signs counted (want %d)", urgent, tc.urgent, signs, len(tc.yes))
				}
				golden(t, "walk.selfcheck_"+tc.name+"."+lang, got)
			})
		}
	}
}

// lessonIDs are the ids of every lesson flow, sorted.
func lessonIDs(c *content.Content) []string {
	var lessons []string
	for id := range c.Def.Flows {
		if strings.HasPrefix(id, "lesson_") {
			lessons = append(lessons, id)
		}
	}
	sort.Strings(lessons)
	return lessons
}
