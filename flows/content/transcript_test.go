package content_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/transcripts")

// transcript runs what a person sends through the engine with the shipped
// content, rendering every reply in the person's language. The session is
// serialised and read back between turns, as the store does, so every
// golden also tests persistence. "[id]" presses the button with that id.
func transcript(t *testing.T, c *content.Content, inputs []string) string {
	t.Helper()
	var b strings.Builder
	var s flows.Session
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, text := range inputs {
		fmt.Fprintf(&b, "> %s\n", text)
		var in flows.Input
		if id, ok := strings.CutPrefix(text, "["); ok {
			in = flows.Input{Choice: strings.TrimSuffix(id, "]"), Prompt: s.Prompt}
		} else {
			in = flows.Resolve(c.Def, &s, text, c.Lexicon)
		}
		next, outs, effs := flows.Step(c.Def, s, in, now)
		lang := next.Lang()
		if lang == "" {
			lang = c.Catalog.Default()
		}
		renderTurn(t, &b, c, lang, outs, effs)
		s = roundTrip(t, next)
		now = now.Add(time.Minute)
	}
	return b.String()
}

func load(t *testing.T) *content.Content {
	t.Helper()
	c, err := content.Load("", "en", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// onboarding answers: greet, pick the language by its number in the menu,
// agree to the privacy notice.
func onboarding(t *testing.T, c *content.Content, greeting, lang string) []string {
	t.Helper()
	for i, l := range c.Def.Languages {
		if l == lang {
			return []string{greeting, fmt.Sprint(i + 1), "1"}
		}
	}
	t.Fatalf("no language %s", lang)
	return nil
}

// documents walks the documents lesson from the main menu to its end.
func documentsLesson(c *content.Content, t *testing.T) []string {
	return []string{"1", lessonNumber(t, c, "documents"), "[continue]", "[continue]"}
}

// lessonNumber finds the digit that opens a lesson in the rights menu, so
// the transcripts do not break when topics are added.
func lessonNumber(t *testing.T, c *content.Content, id string) string {
	t.Helper()
	f := c.Def.Flows["rights"]
	n := f.Nodes[f.Start]
	for i, ch := range n.Choices {
		if ch.ID == id {
			return fmt.Sprint(i + 1)
		}
	}
	t.Fatalf("rights menu has no %q", id)
	return ""
}

// laterLesson opens a lesson from the main menu, pressing "more topics"
// until its page of the rights menu, and goes through its content note and
// messages to its question.
func laterLesson(t *testing.T, c *content.Content, id string) []string {
	t.Helper()
	f := c.Def.Flows["rights"]
	inputs := []string{"1"}
	for page, seen := f.Start, 0; seen < len(f.Nodes); seen++ {
		next := ""
		for _, ch := range f.Nodes[page].Choices {
			if ch.ID == id {
				inputs = append(inputs, "["+id+"]")
				return append(inputs, lessonSteps(t, c, f.Nodes[ch.Next].Call)...)
			}
			if ch.ID == "more" {
				next = ch.Next
			}
		}
		if next == "" {
			break
		}
		inputs = append(inputs, "[more]")
		page = next
	}
	t.Fatalf("rights menu has no %q", id)
	return nil
}

// lessonSteps presses "Continue" on a lesson's content note and on each
// paced run of messages, up to the quiz.
func lessonSteps(t *testing.T, c *content.Content, flow string) []string {
	t.Helper()
	f := c.Def.Flows[flow]
	var out []string
	if f.Nodes["note"] != nil {
		out = append(out, "[go]")
	}
	for _, n := range []string{"intro", "part2", "part3"} {
		if f.Nodes[n] != nil && f.Nodes[n].Continue {
			out = append(out, "[continue]")
		}
	}
	if f.Nodes["quiz"] == nil {
		t.Fatalf("%s has no quiz", flow)
	}
	return out
}

func TestTranscripts(t *testing.T) {
	c := load(t)
	lesson := documentsLesson(c, t)
	onboard := map[string][]string{
		"en": onboarding(t, c, "hello", "en"),
		"es": onboarding(t, c, "hola", "es"),
		"fr": onboarding(t, c, "bonjour", "fr"),
	}
	cases := map[string][]string{
		"onboarding.en":                 onboard["en"],
		"onboarding.es":                 onboard["es"],
		"onboarding.fr":                 onboard["fr"],
		"onboarding.more_then_agree.en": concat(onboarding(t, c, "hi", "en")[:2], []string{"2", "3", "1"}),
		"lesson_documents.en":           concat(onboard["en"], lesson, []string{"[mine]", "1"}),
		"lesson_documents.es":           concat(onboard["es"], lesson, []string{"[keep]", "1"}),
		"invalid_twice.en":              concat(onboard["en"], lesson, []string{"banana", "7", "1"}),
		"invalid_twice.fr":              concat(onboard["fr"], lesson, []string{"banane", "7", "1"}),
		"resume_lesson.en":              concat(onboard["en"], lesson, []string{"menu", "1", lessonNumber(t, c, "documents")}),
		"stale_button.en":               concat(onboard["en"], []string{"1", "menu", "[documents]"}),
	}
	// Every global intent from the middle of the lesson, in English and
	// in Spanish keywords.
	for _, it := range []string{"menu", "language", "coach", "stop", "start", "delete", "clear"} {
		cases["intent_"+it+".en"] = concat(onboard["en"], lesson[:3], []string{it, "1"})
	}
	for it, word := range map[string]string{"menu": "menú", "coach": "necesito ayuda", "stop": "parar", "delete": "borrar"} {
		cases["intent_"+it+".es"] = concat(onboard["es"], lesson[:3], []string{word, "1"})
	}
	// The lessons on the last page of topics, through the menu, in English,
	// Spanish (the other answer) and Arabic.
	onboard["ar"] = onboarding(t, c, "hello", "ar")
	for _, l := range []struct{ id, right, wrong string }{
		{"equal_pay", "same", "normal"},
		{"bargaining", "rules", "nothing"},
		{"report_safely", "plan", "now"},
		{"migrant_rights", "still", "none"},
		{"fragile", "talk", "yes"},
	} {
		for lang, answer := range map[string]string{"en": l.right, "es": l.wrong, "ar": l.right} {
			cases["lesson_"+l.id+"."+lang] = concat(onboard[lang], laterLesson(t, c, l.id), []string{"[" + answer + "]", "[done]"})
		}
	}
	cases["lesson_fragile_coach.en"] = concat(onboard["en"], laterLesson(t, c, "fragile"), []string{"[talk]", "[coach]"})
	cases["intent_stop_start.en"] = concat(onboard["en"], lesson[:3], []string{"stop", "hello", "start"})
	cases["intent_delete_yes.en"] = concat(onboard["en"], lesson[:3], []string{"delete", "[delete_yes]", "hi"})
	for name, inputs := range cases {
		t.Run(name, func(t *testing.T) {
			golden(t, name, transcript(t, c, inputs))
		})
	}
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// diff shows the first differing line.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d\nwant: %s\ngot:  %s", i+1, a, b)
		}
	}
	return ""
}

// renderTurn writes a turn's replies (options numbered, each label in its
// own language) and effects as transcript lines, failing on any fallback or
// missing template variable.
func renderTurn(t *testing.T, b *strings.Builder, c *content.Content, lang string, outs []flows.Output, effs []flows.Effect) {
	t.Helper()
	for _, o := range outs {
		txt, err := c.Catalog.Text(lang, o.Msg, c.Data())
		if err != nil {
			t.Errorf("render %s in %s: %v", o.Msg, lang, err)
		}
		fmt.Fprintf(b, "< %s\n", txt)
		for i, op := range o.Options {
			l := lang
			if op.Lang != "" {
				l = op.Lang
			}
			label, err := c.Catalog.Text(l, op.Label, nil)
			if err != nil {
				t.Errorf("render %s in %s: %v", op.Label, l, err)
			}
			fmt.Fprintf(b, "<   %d %s\n", i+1, label)
		}
	}
	for _, e := range effs {
		fmt.Fprintf(b, "! %s %s%s%s %s\n", e.Kind, e.Reason, e.Topic, e.Value, e.Priority)
	}
}

// roundTrip passes a session through JSON, as the store does between turns.
func roundTrip(t *testing.T, s flows.Session) flows.Session {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out flows.Session
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
