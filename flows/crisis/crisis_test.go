package crisis_test

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/lifeline-org/lifeline/flows/crisis"
)

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Je suis ENFERMÉE!", []string{"je", "suis", "enferme"}}, // ée: accents go, then the run of e counts once
		{"can't leave", []string{"can", "t", "leave"}},
		{"ＨＥＬＰ ｍｅ", []string{"help", "me"}},      // full width
		{"heeeelp meee", []string{"help", "me"}}, // a run of a letter counts once
		{"pass\u200Bport", []string{"pasport"}},  // zero-width space
		{"Помогите! Ёлка", []string{"помогите", "елка"}},
		{"мой", []string{"мой"}}, // й keeps its breve
		{"النـــجـدة", []string{"النجده"}},
		{"أنا في خَطَر", []string{"انا", "في", "خطر"}},
		{"إلى", []string{"الي"}},
		{"मलाई बचाउनुहोस्", []string{"मलाइ", "बचाउनुहोस"}},
		{"पिटाई", []string{"पिटाइ"}}, // long ī and ई fold to short
		{"मद्दत गर्नुस्", []string{"मद्दत", "गर्नुस"}},
		{"sa3dooni", []string{"sa3doni"}},
		{"٩١١", []string{"911"}},
		{"", nil},
	} {
		if got := crisis.Words(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func detector(t *testing.T, echoes ...string) *crisis.Detector {
	t.Helper()
	lists, err := crisis.Load(fstest.MapFS{
		"en.yaml": {Data: []byte(`
script: Latn
phrases: ["kill* myself", "took ** passport*", "hit me", "emergency", "locked * in"]
any: ["sos"]
not: ["emergency contact*", "hit me up"]
`)},
		"es.yaml": {Data: []byte(`
script: Latn
phrases: ["encerrad*", "me peg*"]
any: ["auxilio"]
`)},
		"pt.yaml": {Data: []byte(`
script: Latn
phrases: ["me bat*"]
`)},
		"tl.yaml": {Data: []byte(`
script: Latn
phrases: ["binugbog*"]
also: [en]
`)},
		"ru.yaml": {Data: []byte(`
script: Cyrl
phrases: ["помогит*", "pomogit*"]
`)},
		"ar.yaml": {Data: []byte(`
script: Arab
phrases: ["(ضربني|ضربوني|بيضرب*)", "(اخذ|ماخذ) ** (جواز*|باسبور*)"]
clitics: [و, ف, ال]
`)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if probs := crisis.Check(lists, []string{"en", "es", "pt", "ru", "tl", "ar"}); len(probs) > 0 {
		t.Fatal(probs)
	}
	return crisis.New(lists, echoes)
}

func TestMatch(t *testing.T) {
	d := detector(t, "If your boss took your passport, that is a sign of forced labour.")
	for _, tc := range []struct {
		lang, text string
		want       string // the phrase, or "" for no alarm
	}{
		{"en", "I want to kill myself", "kill* myself"},
		{"en", "i'm going to KILL MYSELF tonight", "kill* myself"},
		{"en", "killing myself", "kill* myself"},
		{"en", "they took my passport", "took ** passport*"},
		{"en", "he took away our passports", "took ** passport*"},
		{"en", "they took the money from my passport wallet yesterday", ""}, // too far apart
		{"en", "he hit me", "hit me"},
		{"en", "my emergency contact is my sister", ""}, // negative context
		{"en", "emergency!", "emergency"},
		{"en", "my emergency contact is gone, this is an emergency", "emergency"},
		{"en", "hit me up when the lesson is out", ""},
		{"en", "they locked me in", "locked * in"},
		{"en", "SOS", "sos"},
		{"en", "auxilio", "auxilio"},       // another list's cross-language phrase
		{"pt", "O caso foi encerrado", ""}, // Spanish's word, not Portuguese's
		{"es", "Estoy encerrada en la casa", "encerrad*"},
		{"pt", "ele me bateu", "me bat*"},
		{"es", "ele me bateu", ""},
		{"tl", "binugbog ako ng amo ko", "binugbog*"},
		{"tl", "my boss took my passport", "took ** passport*"}, // tl's list names en in also
		{"tl", "emergency contact ko si ate", ""},               // and en's contexts count too
		{"es", "my boss took my passport", ""},
		{"ar", "الكفيل ضربني", "(ضربني|ضربوني|بيضرب*)"},
		{"ar", "وضربوني امس", "(ضربني|ضربوني|بيضرب*)"}, // و joined to the word
		{"ar", "الكفيل ماخذ جوازي", "(اخذ|ماخذ) ** (جواز*|باسبور*)"},
		{"ar", "فاخذ الباسبور", "(اخذ|ماخذ) ** (جواز*|باسبور*)"},
		{"ar", "والباسبور اخذه", ""}, // the words in another order
		{"ar", "وين الباص", ""},
		{"en", "помогите", "помогит*"}, // written in Russian's script: Russian counts too
		{"ru", "pomogite pozhaluysta", "pomogit*"},
		{"", "me pegó", "me peg*"},                                                      // no language chosen: every list counts
		{"en", "If your boss took your passport, that is a sign of forced labour.", ""}, // an echo
		{"en", "my boss took my passport", "took ** passport*"},
		{"en", "", ""},
	} {
		h, ok := d.Match(tc.lang, tc.text)
		if ok != (tc.want != "") || h.Phrase != tc.want {
			t.Errorf("Match(%q, %q) = %q %v, want %q", tc.lang, tc.text, h.Phrase, ok, tc.want)
		}
	}
}

func TestCheckReportsBadLists(t *testing.T) {
	lists, err := crisis.Load(fstest.MapFS{"en.yaml": {Data: []byte("script: Latn\nphrases: ['* me', '!!!', '(a|b c)', '(open']\nalso: [xx]\n")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	probs := crisis.Check(lists, []string{"en", "fr"})
	if len(probs) != 6 {
		t.Errorf("want 6 problems (wildcard first, no words, a two-word choice, no ), also xx, fr missing), got %q", probs)
	}
	if _, err := crisis.Load(fstest.MapFS{"en.yaml": {Data: []byte("script: Latn\nphrase: [x]\n")}}, nil); err == nil {
		t.Error("an unknown field loaded without error")
	}
}
