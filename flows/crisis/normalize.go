package crisis

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/lifeline-org/lifeline/flows"
)

// Words splits text into the normalised words the detector compares. Both
// the phrase lists and what people write go through it, so a phrase
// matches however a phone or a hurried hand spells it:
//
//   - Unicode NFKC (full-width letters, ligatures, compatibility forms), then
//     lower case; decimal digits of any script become ASCII digits.
//   - Invisible characters (zero-width joiners and spaces, soft hyphens, the
//     Arabic tatweel) are dropped, so "ا‌لـنـجـدة" is "النجدة".
//   - Latin letters lose their diacritics ("enfermée" is "enfermee", "socorro"
//     typed as "sócorro" too). Cyrillic keeps й but ё is е and stress marks
//     go. Arabic loses its short-vowel marks and its letter variants are
//     merged (أ إ آ ٱ → ا, ى → ي, ة → ه, ؤ → و, ئ → ي, Persian ی ک → ي ك).
//     Devanagari merges what Nepali typists mix up: long and short i and u
//     (ी ि, ू ु, ई इ, ऊ उ), chandrabindu and anusvara, the nukta, and a
//     word-final virama.
//   - A run of the same letter counts once ("heeelp", "pleeease",
//     "ساعدوووني"), in phrases too, so doubled letters typed single
//     ("pasport", "kil") still match.
//   - Words are runs of letters, marks and digits; everything else
//     separates them, so "can't" is "can t" and "m'enferment" is "m
//     enferment" (lists spell both forms where people drop the apostrophe).
func Words(text string) []string {
	s := flows.FoldDigits(norm.NFKC.String(text))
	var b strings.Builder
	b.Grow(len(s))
	var base rune // the last kept rune that is not a combining mark
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		if r2, keep := foldRune(r, base); keep {
			b.WriteRune(r2)
			if !unicode.IsMark(r2) {
				base = r2
			}
		}
	}
	folded := norm.NFC.String(b.String())
	var words []string
	var w []rune
	flush := func() {
		if len(w) == 0 {
			return
		}
		// A word-final virama is often left off (or added) by Nepali
		// typists: drop it.
		for len(w) > 0 && w[len(w)-1] == '\u094D' {
			w = w[:len(w)-1]
		}
		if len(w) > 0 {
			words = append(words, string(w))
		}
		w = w[:0]
	}
	var last rune
	for _, r := range folded {
		if !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) {
			flush()
			last = 0
			continue
		}
		if unicode.IsLetter(r) && r == last {
			continue // a repeated letter counts once
		}
		w = append(w, r)
		last = r
	}
	flush()
	return words
}

// foldRune folds one rune of NFD text; keep is false for a rune to drop.
// base is the letter a combining mark sits on.
func foldRune(r rune, base rune) (rune, bool) {
	switch {
	case r >= '0' && r <= '9':
		return r, true
	case r == '\u200B', r == '\u200C', r == '\u200D', r == '\u2060', r == '\uFEFF', r == '\u00AD', r == '\u0640':
		return 0, false
	case unicode.Is(unicode.Mn, r):
		switch {
		case unicode.Is(unicode.Latin, base):
			return 0, false // é → e, ñ → n, ç → c
		case unicode.Is(unicode.Cyrillic, base):
			// ё → е; stress marks go; the breve of й stays.
			if r == '\u0308' && base == 'е' || r == '\u0301' || r == '\u0300' {
				return 0, false
			}
		case unicode.Is(unicode.Arabic, base) || base == 0:
			if r >= '\u064B' && r <= '\u065F' || r == '\u0670' {
				return 0, false // harakat, shadda, sukun, dagger alef
			}
			// Hamza and madda above or below an alef: the bare letter.
			if r == '\u0653' || r == '\u0654' || r == '\u0655' {
				return 0, false
			}
		case unicode.Is(unicode.Devanagari, base):
			switch r {
			case '\u093C': // nukta
				return 0, false
			case '\u0901': // chandrabindu
				return '\u0902', true
			case '\u0940': // ी
				return '\u093F', true
			case '\u0942': // ू
				return '\u0941', true
			}
		}
		return r, true
	}
	switch r {
	case 'ё':
		return 'е', true
	case 'ٱ':
		return 'ا', true
	case 'ى', 'ی':
		return 'ي', true
	case 'ة':
		return 'ه', true
	case 'ک':
		return 'ك', true
	case 'ई':
		return 'इ', true
	case 'ऊ':
		return 'उ', true
	case 'ी':
		return 'ि', true
	case 'ू':
		return 'ु', true
	case 'ँ':
		return 'ं', true
	case 'ß':
		return 's', true
	}
	return r, true
}
