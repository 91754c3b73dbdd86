package sms

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Segment sizes. A message that fits one segment has the whole 140 octets;
// a longer one is sent in parts, each losing 6 octets to the concatenation
// header (Twilio's calculator reserves 6 octets, so 1072 bits remain).
const (
	gsmSingle  = 160 // septets
	gsmMulti   = 153
	ucs2Single = 70 // UTF-16 code units
	ucs2Multi  = 67
)

// gsmBasic and gsmExtension are the GSM 03.38 default alphabet and its
// extension table (each extension character costs an escape plus itself).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// gsmSeptets maps each GSM-7 character to its cost in septets.
var gsmSeptets = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// Encoding reports whether text can be sent in GSM-7; otherwise Twilio
// sends it as UCS-2, which fits less than half as much per segment.
func Encoding(text string) (gsm7 bool) {
	for _, r := range text {
		if gsmSeptets[r] == 0 {
			return false
		}
	}
	return true
}

// Segments is how many SMS segments text is billed and delivered as. It
// matches Twilio's segment calculator: characters of the extension table
// take two septets, and a multi-unit character or a grapheme cluster is
// never split across segments, so it may start a new one early.
func Segments(text string) int {
	gsm := Encoding(text)
	single, multi := limits(gsm)
	total := 0
	for c := range clusters(text) {
		total += cost(c, gsm)
	}
	if total <= single {
		return 1
	}
	n, used := 1, 0
	for c := range clusters(text) {
		k := cost(c, gsm)
		if used > 0 && used+k > multi {
			n++
			used = 0
		}
		used += k
	}
	return n
}

// Count is what Measure reports about a text, for showing a writer the
// cost of a message before it is sent.
type Count struct {
	Encoding   string // "GSM-7" or "UCS-2"
	Units      int    // GSM-7 septets (an extension character takes two) or UTF-16 code units
	Segments   int    // as Segments counts them, but 0 for empty text
	PerSegment int    // units one segment holds: 160 or 70 alone, 153 or 67 as a part
}

// Measure counts text as Segments does and says why: its encoding, its
// size in that encoding's units and the size of each segment. Unlike
// Segments (and Twilio's calculator), it gives 0 segments for empty text,
// since nothing would be sent.
func Measure(text string) Count {
	gsm := Encoding(text)
	single, multi := limits(gsm)
	c := Count{Encoding: "UCS-2", PerSegment: single}
	if gsm {
		c.Encoding = "GSM-7"
	}
	if text == "" {
		return c
	}
	c.Units = cost(text, gsm)
	c.Segments = Segments(text)
	if c.Segments > 1 {
		c.PerSegment = multi
	}
	return c
}

// Split cuts text into parts that each fit in maxSegments segments, at
// word boundaries (spaces, newlines) where it can, so each part reads on
// its own. A word too long for a part is cut between grapheme clusters.
// Text that already fits is returned whole.
func Split(text string, maxSegments int) []string {
	if maxSegments < 1 {
		maxSegments = 1
	}
	fits := func(s string) bool { return Segments(s) <= maxSegments }
	if fits(text) {
		return []string{text}
	}
	var parts []string
	rest := strings.TrimSpace(text)
	for rest != "" {
		if fits(rest) {
			parts = append(parts, rest)
			break
		}
		end, next := cut(rest, fits)
		parts = append(parts, rest[:end])
		rest = strings.TrimLeftFunc(rest[next:], unicode.IsSpace)
	}
	return parts
}

// cut finds where the first part of s ends (end) and where the rest starts
// (next). fits must be monotone: a longer prefix never fits better.
func cut(s string, fits func(string) bool) (end, next int) {
	// Word boundaries: the start of each run of white space.
	type boundary struct{ end, next int }
	var words []boundary
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			i += n
			continue
		}
		j := i + n
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsSpace(r) {
				break
			}
			j += n
		}
		if i > 0 {
			words = append(words, boundary{i, j})
		}
		i = j
	}
	// The last word boundary whose prefix fits (binary search).
	lo, hi := 0, len(words)
	for lo < hi {
		mid := (lo + hi) / 2
		if fits(s[:words[mid].end]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > 0 {
		b := words[lo-1]
		return b.end, b.next
	}
	// No word fits: cut at the last grapheme cluster boundary that does,
	// always taking at least one cluster so Split makes progress.
	end = 0
	for c := range clusters(s) {
		if end > 0 && !fits(s[:end+len(c)]) {
			break
		}
		end += len(c)
	}
	return end, end
}

func limits(gsm bool) (single, multi int) {
	if gsm {
		return gsmSingle, gsmMulti
	}
	return ucs2Single, ucs2Multi
}

// cost is a cluster's (or any text's) size in septets (GSM-7) or UTF-16
// code units (UCS-2).
func cost(cluster string, gsm bool) int {
	n := 0
	for _, r := range cluster {
		if gsm {
			n += gsmSeptets[r]
		} else {
			n += utf16.RuneLen(r)
		}
	}
	return n
}

// clusters yields text's grapheme clusters, approximately: a rune with the
// combining marks, spacing marks, variation selectors, emoji modifiers and
// tags after it; emoji joined by ZWJ; and pairs of regional indicators
// (flags). It follows the rules of the grapheme-splitter package that
// Twilio's calculator uses, without Hangul jamo sequences or prepended
// marks, which our texts do not need.
func clusters(text string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for text != "" {
			n := clusterLen(text)
			if !yield(text[:n]) {
				return
			}
			text = text[n:]
		}
	}
}

// clusterLen is the length in bytes of the first cluster of s (non-empty).
// A cluster ends before it would outgrow a part of a long UCS-2 message
// (67 code units), which only marks piled on one letter make: no segment
// could carry it whole, so counting it as one would undercount.
func clusterLen(s string) int {
	r, i := utf8.DecodeRuneInString(s)
	pairRI := isRegionalIndicator(r)
	prev := r
	units := utf16.RuneLen(r)
	for i < len(s) {
		next, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isExtend(next), next == zwj, isSpacingMark(next):
		case prev == zwj && isPictographic(next):
		case pairRI && isRegionalIndicator(next):
			pairRI = false
		default:
			return i
		}
		if units += utf16.RuneLen(next); units > ucs2Multi {
			return i
		}
		if !isRegionalIndicator(next) {
			pairRI = false
		}
		prev = next
		i += n
	}
	return i
}

const zwj = '\u200d'

func isExtend(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me) ||
		r == '\u200c' || // zero width non-joiner
		(r >= 0x1f3fb && r <= 0x1f3ff) || // emoji skin tone modifiers
		(r >= 0xe0020 && r <= 0xe007f) || // tags (subdivision flags)
		r == 0xff9e || r == 0xff9f // halfwidth katakana sound marks
}

func isSpacingMark(r rune) bool {
	switch r {
	case 0x0e33, 0x0eb3: // Thai and Lao sara am
		return true
	case 0x102b, 0x102c, 0x1038, 0x1062, 0x1063, 0x1064, 0x1067, 0x1068,
		0x1069, 0x106a, 0x106b, 0x106c, 0x106d, 0x1083, 0x1087, 0x1088,
		0x1089, 0x108a, 0x108b, 0x108c, 0x108f, 0x109a, 0x109b, 0x109c,
		0x1a61, 0x1a63, 0x1a64, 0xaa7b, 0xaa7d, 0x11720, 0x11721:
		// Spacing marks that UAX #29 lets stand alone.
		return false
	}
	return unicode.Is(unicode.Mc, r)
}

func isRegionalIndicator(r rune) bool { return r >= 0x1f1e6 && r <= 0x1f1ff }

// isPictographic approximates Extended_Pictographic: what a ZWJ joins.
func isPictographic(r rune) bool {
	return unicode.Is(unicode.So, r) || (r >= 0x1f000 && r <= 0x1faff)
}
