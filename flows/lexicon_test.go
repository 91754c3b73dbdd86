package flows

import (
	"slices"
	"sort"
	"testing"
)

// texts is an in-memory Texts: lang -> id -> raw text, langs in order.
type texts struct {
	langs []string
	msgs  map[string]map[string]string
}

func (t texts) Languages() []string { return t.langs }
func (t texts) Raw(lang, id string) string {
	return t.msgs[lang][id]
}
func (t texts) IDs(lang string) []string {
	var ids []string
	for id := range t.msgs[lang] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// TestLexicon: keyword lists name intents in every language (the default
// language wins a shared word), options are picked by their label's words
// and its .kw synonyms, and an unknown language reads the default's.
func TestLexicon(t *testing.T) {
	lex := NewLexicon(texts{
		langs: []string{"en", "es"},
		msgs: map[string]map[string]string{
			"en": {"kw.menu": "Menu, /start over", "kw.stop": "stop", "opt.yes": "Yes", "opt.yes.kw": "yep, sure"},
			"es": {"kw.menu": "menú", "kw.coach": "stop", "opt.yes": "Sí"},
		},
	})
	for folded, want := range map[string]Intent{"menu": IntentMenu, "start over": IntentMenu, "menu!": IntentNone,
		"stop": IntentStop, "nothing": IntentNone} {
		if got := lex.Intent(folded); got != want {
			t.Errorf("Intent(%q) = %q, want %q", folded, got, want)
		}
	}
	if got := lex.Intent(Fold("MENÚ")); got != IntentMenu {
		t.Errorf("Intent(menú) = %q", got)
	}
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"en", []string{"yes", "yep", "sure", "yep, sure"}},
		{"es", []string{"si"}},
		{"xx", []string{"yes", "yep", "sure", "yep, sure"}},
	} {
		if got := lex.Words(tc.lang, "opt.yes"); !slices.Equal(got, tc.want) {
			t.Errorf("Words(%s, opt.yes) = %q, want %q", tc.lang, got, tc.want)
		}
	}
}
