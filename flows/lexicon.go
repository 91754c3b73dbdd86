package flows

import (
	"slices"
	"strings"
)

// Texts is what the lexicon reads from the locales: every message of every
// language, unrendered. *locales.Catalog satisfies it; flows does not
// import locales.
type Texts interface {
	// Languages returns the loaded language tags, the default first.
	Languages() []string
	// IDs returns every message id of lang.
	IDs(lang string) []string
	// Raw returns the unrendered text of id in lang ("" when absent).
	Raw(lang, id string) string
}

// KeywordPrefix starts the messages ("kw.<intent>") that hold the
// comma-separated words naming a global intent.
const KeywordPrefix = "kw."

// TextLexicon is the Lexicon the locales make: the keyword lists name the
// global intents, and every message (and its "<id>.kw" synonyms) gives the
// words that pick an option it labels. It is built once and never changed.
type TextLexicon struct {
	def     string
	intents map[string]Intent
	words   map[string]map[string][]string // lang -> message id -> folded words
}

// NewLexicon indexes the words of every language in t. Where two intents
// share a word, the default language's, then the earlier language's, then
// the earlier intent's (in Intents order) wins.
func NewLexicon(t Texts) *TextLexicon {
	l := &TextLexicon{intents: map[string]Intent{}, words: map[string]map[string][]string{}}
	langs := t.Languages()
	if len(langs) > 0 {
		l.def = langs[0]
	}
	for _, lang := range langs {
		for _, it := range Intents {
			for _, w := range strings.Split(t.Raw(lang, KeywordPrefix+string(it)), ",") {
				if w = Fold(w); w != "" {
					if _, taken := l.intents[w]; !taken {
						l.intents[w] = it
					}
				}
			}
		}
		words := map[string][]string{}
		for _, id := range t.IDs(lang) {
			raw := t.Raw(lang, id)
			var ws []string
			for _, w := range strings.Split(raw, ",") {
				if w = Fold(w); w != "" {
					ws = append(ws, w)
				}
			}
			if whole := Fold(raw); whole != "" && !slices.Contains(ws, whole) {
				ws = append(ws, whole)
			}
			words[id] = ws
		}
		l.words[lang] = words
	}
	return l
}

// Intent implements Lexicon: the global intent a whole message names in
// any loaded language.
func (l *TextLexicon) Intent(folded string) Intent { return l.intents[folded] }

// Words implements Lexicon: the folded words that pick an option labelled
// label in lang (the default language's when lang is not loaded), and the
// label's synonyms in "<label>.kw".
func (l *TextLexicon) Words(lang, label string) []string {
	if l.words[lang] == nil {
		lang = l.def
	}
	return append(slices.Clone(l.words[lang][label]), l.words[lang][label+".kw"]...)
}
