package flows

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// lex is a tiny lexicon for engine tests: English words only.
type lex map[string]Intent

func (l lex) Intent(folded string) Intent { return l[folded] }
func (l lex) Words(lang, label string) []string {
	return []string{label[strings.LastIndexByte(label, '.')+1:]}
}

var testLex = lex{"menu": IntentMenu, "coach": IntentCoach, "stop": IntentStop, "start": IntentStart,
	"delete": IntentDelete, "clear": IntentClear, "language": IntentLanguage}

func loadFixture(t testing.TB) *Definition {
	t.Helper()
	d, err := Load(os.DirFS("testdata/engine"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Languages = []string{"en", "es"}
	return d
}

// converse runs inputs through the engine, reloading the session from JSON
// between turns, and returns one line per turn: the outputs' message ids
// (options in brackets) and effects (after "!").
func converse(t testing.TB, d *Definition, s Session, inputs ...string) (Session, []string) {
	t.Helper()
	var lines []string
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, text := range inputs {
		var in Input
		if flow, ok := strings.CutPrefix(text, "flow:"); ok {
			in = Input{Flow: flow}
		} else if id, ok := strings.CutPrefix(text, "btn:"); ok {
			// A pressed button: id@prompt.
			choice, prompt, _ := strings.Cut(id, "@")
			in = Input{Choice: choice}
			if prompt != "" {
				in.Prompt = atoi(prompt)
			} else {
				in.Prompt = s.Prompt
			}
		} else {
			in = Resolve(d, &s, text, testLex)
		}
		next, outs, effs := Step(d, s, in, now)
		var parts []string
		for _, o := range outs {
			p := o.Msg
			if len(o.Options) > 0 {
				var ids []string
				for _, op := range o.Options {
					ids = append(ids, op.ID)
				}
				p += "[" + strings.Join(ids, ",") + "]"
			}
			parts = append(parts, p)
		}
		for _, e := range effs {
			p := "!" + e.Kind
			if arg := e.Reason + e.Topic + e.Value; arg != "" {
				p += ":" + arg
			}
			parts = append(parts, p)
		}
		lines = append(lines, strings.Join(parts, " "))
		raw, err := json.Marshal(next)
		if err != nil {
			t.Fatal(err)
		}
		s = Session{}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
	}
	return s, lines
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestEngine(t *testing.T) {
	d := loadFixture(t)
	onboard := []string{"hi", "1", "1"}
	menu := "t.menu[a,loop,name,age,sure,lang]"
	cases := []struct {
		name   string
		inputs []string
		want   []string // lines after onboarding
	}{
		{"call and return", []string{"1", "btn:continue", "btn:x"},
			[]string{"t.s1 t.s2[continue]", "t.q[x]", "t.back_in_menu " + menu + " !escalate:test"}},
		{"typed continue word", []string{"a", "continue"}, []string{"t.s1 t.s2[continue]", "t.q[x]"}},
		{"invalid twice then help then retry", []string{"1", "btn:continue", "zzz", "zzz", "1"},
			[]string{"t.s1 t.s2[continue]", "t.q[x]", "engine.hint t.q[x]", "engine.help[retry,menu,coach]", "t.q[x]"}},
		{"help keeps answers valid", []string{"1", "btn:continue", "zzz", "zzz", "x"},
			[]string{"t.s1 t.s2[continue]", "t.q[x]", "engine.hint t.q[x]", "engine.help[retry,menu,coach]", "t.back_in_menu " + menu + " !escalate:test"}},
		{"stale button", []string{"1", "btn:x@1"}, []string{"t.s1 t.s2[continue]", "engine.stale t.s1 t.s2[continue]"}},
		{"loop is bounded", []string{"2", "menu"}, []string{"engine.loop", menu}},
		{"text input too long then ok", []string{"3", "abcdefghijklmnop", "Ana"}, []string{"t.name_q", "engine.hint t.name_q", menu}},
		{"number input other script", []string{"4", "٤٢"}, []string{"t.age_q", menu}},
		{"number out of range", []string{"4", "500"}, []string{"t.age_q", "engine.hint t.age_q"}},
		{"yes no", []string{"5", "yes"}, []string{"t.sure_q[yes,no] !record:askedsure", menu}},
		{"intent menu mid flow", []string{"1", "menu"}, []string{"t.s1 t.s2[continue]", menu}},
		{"intent coach mid flow then back", []string{"1", "coach", "btn:back"},
			[]string{"t.s1 t.s2[continue]", "engine.coach_requested[back,menu] !escalate:asked", "t.s1 t.s2[continue]"}},
		{"intent language returns", []string{"1", "language", "2"},
			[]string{"t.s1 t.s2[continue]", "t.lang_q[en,es] ", "t.s1 t.s2[continue] !language:es"}},
		{"language from a choice", []string{"6", "2"}, []string{"t.lang_q[en,es]", menu + " !language:es"}},
		{"stop then start", []string{"1", "stop", "hello", "start"},
			[]string{"t.s1 t.s2[continue]", "engine.stopped !stop", "engine.still_stopped", "engine.started " + menu + " !start"}},
		{"delete cancelled", []string{"1", "delete", "btn:back"},
			[]string{"t.s1 t.s2[continue]", "engine.delete_confirm[delete_yes,back]", "engine.delete_cancelled t.s1 t.s2[continue]"}},
		{"delete confirmed starts over", []string{"delete", "btn:delete_yes", "hi"},
			[]string{"engine.delete_confirm[delete_yes,back]", "engine.deleted !delete", "t.lang_q[en,es]"}},
		{"clear", []string{"clear"}, []string{"!clear"}},
		{"a triggered flow starts", []string{"flow:sub"}, []string{"t.s1 t.s2[continue]"}},
		{"no trigger while stopped", []string{"stop", "flow:sub"}, []string{"engine.stopped !stop", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, lines := converse(t, d, Session{}, onboard...)
			if want := []string{"t.lang_q[en,es]", "t.consent[ok] !language:en", menu}; strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Fatalf("onboarding:\n%s", strings.Join(lines, "\n"))
			}
			_, got := converse(t, d, s, tc.inputs...)
			for i := range got {
				got[i] = strings.TrimSpace(got[i])
			}
			for i := range tc.want {
				tc.want[i] = strings.TrimSpace(tc.want[i])
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestStepDoesNotChangeItsArgument(t *testing.T) {
	d := loadFixture(t)
	s, _ := converse(t, d, Session{}, "hi", "1", "1")
	before, _ := json.Marshal(s)
	Step(d, s, Input{Choice: "a", Prompt: s.Prompt}, time.Now())
	after, _ := json.Marshal(s)
	if string(before) != string(after) {
		t.Fatalf("session changed:\n%s\n%s", before, after)
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"  MENÚ ":           "menu",
		"/menu@LifeBot":     "menu",
		"Stop!":             "stop",
		"١٢":                "12",
		"१२३":               "123",
		"৩":                 "3",
		"１":                 "1",
		"Talk  to\tsomeone": "talk to someone",
		"ПРИВЁТ":            "привет",
		"أخذوا":             "اخذوا",
		"सुरु":              "सुरु",
		"น้ำ":               "น้ำ",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkStep(b *testing.B) {
	d := loadFixture(b)
	s, _ := converse(b, d, Session{}, "hi", "1", "1")
	in := Input{Choice: "a", Prompt: s.Prompt}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		Step(d, s, in, now)
	}
}
