package flows

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Lexicon knows the words people use, in every language. It is data (the
// locales), so Resolve stays pure.
type Lexicon interface {
	// Intent returns the global intent a whole message names, in any
	// language, or IntentNone. text is already folded.
	Intent(folded string) Intent
	// Words returns the folded words that pick an option labelled label
	// when it is shown in lang.
	Words(lang, label string) []string
}

// Resolve turns what a person typed into an Input: a global intent, a
// choice among the options on offer (by number, in any script, or by the
// option's words in the person's language), or free text.
func Resolve(d *Definition, s *Session, text string, lex Lexicon) Input {
	text = strings.TrimSpace(text)
	folded := Fold(text)
	if it := lex.Intent(folded); it != IntentNone {
		return Input{Intent: it}
	}
	opts := d.OnOffer(s)
	if len(opts) == 0 {
		return Input{Text: text}
	}
	if n, err := strconv.Atoi(folded); err == nil {
		if n >= 1 && n <= len(opts) {
			return Input{Choice: opts[n-1].ID}
		}
		return Input{Text: text}
	}
	if s.Overlay != "" {
		// Over a question, the question's own options still count by name.
		under := *s
		under.Overlay = ""
		opts = append(opts, d.OnOffer(&under)...)
	}
	for _, o := range opts {
		lang := o.Lang
		if lang == "" {
			lang = s.Lang()
		}
		for _, w := range lex.Words(lang, o.Label) {
			if w != "" && w == folded {
				return Input{Choice: o.ID}
			}
		}
	}
	return Input{Text: text}
}

// stripMarks drops the accents of scripts where people often leave them
// out (é = e, ё = е, Arabic vowel signs), but keeps the vowel signs of
// scripts where they are letters (Devanagari, Bengali, Thai…): दुख is not दख.
func stripMarks(s string) string {
	var b strings.Builder
	var base rune
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			if unicode.In(base, unicode.Latin, unicode.Greek, unicode.Cyrillic, unicode.Arabic, unicode.Hebrew) {
				continue
			}
		} else {
			base = r
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// Fold makes text comparable across the ways people write it: lower case,
// no diacritics, digits of any script as ASCII, single spaces, no leading
// slash or trailing punctuation.
func Fold(text string) string {
	s := strings.ToLower(FoldDigits(stripMarks(text)))
	s = strings.Join(strings.Fields(s), " ")
	s = strings.TrimLeft(s, "/")
	s = strings.TrimRightFunc(s, func(r rune) bool { return unicode.IsPunct(r) })
	// Telegram sends "/menu@SomeBot" in groups.
	if i := strings.IndexByte(s, '@'); i > 0 && !strings.ContainsRune(s[:i], ' ') {
		s = s[:i]
	}
	return s
}

// FoldDigits replaces decimal digits of any script (Arabic-Indic,
// Devanagari, Bengali, Thai, full-width, …) with ASCII digits.
func FoldDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || !unicode.IsDigit(r) {
			return r
		}
		// Unicode decimal digits come in runs of ten starting at zero
		// (some runs touch each other, hence the modulo).
		z := r
		for z > 0 && unicode.IsDigit(z-1) {
			z--
		}
		return '0' + (r-z)%10
	}, s)
}
