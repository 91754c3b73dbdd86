package sms

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// calculatorTable is testdata/segments.json, written by testdata/gen from
// Twilio's own segment calculator (npm sms-segments-calculator).
type calculatorTable struct {
	Generator string `json:"generator"`
	Rows      []struct {
		Name     string `json:"name"`
		Text     string `json:"text"`
		Encoding string `json:"encoding"`
		Segments int    `json:"segments"`
	} `json:"rows"`
}

func readCalculatorTable(t *testing.T) calculatorTable {
	t.Helper()
	b, err := os.ReadFile("testdata/segments.json")
	if err != nil {
		t.Fatal(err)
	}
	var tab calculatorTable
	if err := json.Unmarshal(b, &tab); err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) < 50 {
		t.Fatalf("segments.json has %d rows, want the full sample set", len(tab.Rows))
	}
	return tab
}

func TestSegmentsMatchTwilioCalculator(t *testing.T) {
	tab := readCalculatorTable(t)
	for _, row := range tab.Rows {
		t.Run(row.Name, func(t *testing.T) {
			wantGSM := row.Encoding == "GSM-7"
			if got := Encoding(row.Text); got != wantGSM {
				t.Errorf("Encoding = gsm7 %v, calculator says %s", got, row.Encoding)
			}
			if got := Segments(row.Text); got != row.Segments {
				t.Errorf("Segments = %d, calculator says %d", got, row.Segments)
			}
		})
	}
}

func TestSplitCalculatorSamples(t *testing.T) {
	// Every sample split to 3 segments gives parts that fit, lose no
	// words and never cut a grapheme cluster.
	tab := readCalculatorTable(t)
	for _, max := range []int{1, 3} {
		for _, row := range tab.Rows {
			parts := Split(row.Text, max)
			if row.Segments <= max {
				if len(parts) != 1 || parts[0] != row.Text {
					t.Errorf("%s/%d: text that fits was split into %d parts", row.Name, max, len(parts))
				}
				continue
			}
			checkSplit(t, row.Name, row.Text, parts, max)
		}
	}
}

// checkSplit checks parts against text: each fits in max segments, none is
// empty, and joined they give text back apart from white space at the cuts,
// with each cut at white space or between grapheme clusters.
func checkSplit(t *testing.T, name, text string, parts []string, max int) {
	t.Helper()
	var starts = map[int]bool{}
	off := 0
	for c := range clusters(text) {
		starts[off] = true
		off += len(c)
	}
	starts[len(text)] = true
	rest := text
	for i, p := range parts {
		if p == "" {
			t.Errorf("%s: part %d is empty", name, i)
			continue
		}
		if n := Segments(p); n > max {
			t.Errorf("%s: part %d takes %d segments, max %d", name, i, n, max)
		}
		trimmed := strings.TrimLeft(rest, " \n\t\r")
		if !strings.HasPrefix(trimmed, p) {
			t.Fatalf("%s: part %d %q is not the next piece of the text", name, i, p)
		}
		at := len(text) - len(trimmed) + len(p)
		if !starts[at] {
			t.Errorf("%s: part %d ends inside a grapheme cluster", name, i)
		}
		rest = trimmed[len(p):]
	}
	if strings.TrimSpace(rest) != "" {
		t.Errorf("%s: text left after the last part: %q", name, rest)
	}
}

func TestSplit(t *testing.T) {
	word := "word "
	family := "👨\u200d👩\u200d👧\u200d👦"
	tests := []struct {
		name  string
		text  string
		max   int
		parts int
		first string // when set, the first part
	}{
		{"fits", "Hello there", 3, 1, "Hello there"},
		{"fits 160", strings.Repeat("a", 160), 1, 1, ""},
		{"two singles", strings.Repeat(word, 40), 1, 2, strings.TrimSpace(strings.Repeat(word, 32))},
		{"at newline", strings.Repeat("a", 100) + "\n" + strings.Repeat("b", 100), 1, 2, strings.Repeat("a", 100)},
		{"three segments", strings.Repeat(word, 200), 3, 3, ""},
		{"long word", strings.Repeat("x", 500), 3, 2, strings.Repeat("x", 459)},
		{"ucs2", strings.Repeat("слово ", 100), 3, 4, strings.TrimSpace(strings.Repeat("слово ", 33))},
		{"emoji word", strings.Repeat(family, 40), 1, 7, strings.Repeat(family, 6)},
		{"thai no spaces", strings.Repeat("น้ำ", 300), 3, 5, strings.Repeat("น้ำ", 66)}, // 22 clusters of 3 units per segment,
		{"max below one", strings.Repeat(word, 40), 0, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parts := Split(tc.text, tc.max)
			if len(parts) != tc.parts {
				t.Fatalf("got %d parts, want %d: %q", len(parts), tc.parts, parts)
			}
			if tc.first != "" && parts[0] != tc.first {
				t.Errorf("first part = %q (%d runes), want %q", parts[0], utf8.RuneCountInString(parts[0]), tc.first)
			}
			max := tc.max
			if max < 1 {
				max = 1
			}
			if len(parts) > 1 {
				checkSplit(t, tc.name, tc.text, parts, max)
			}
		})
	}
}

func TestClusters(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"ascii", "ab", []string{"a", "b"}},
		{"combining", "e\u0301x", []string{"e\u0301", "x"}},
		{"zwj family", "👨\u200d👩\u200d👧x", []string{"👨\u200d👩\u200d👧", "x"}},
		{"skin tone", "👍🏽!", []string{"👍🏽", "!"}},
		{"flags pair up", "🇳🇵🇺🇦🇧", []string{"🇳🇵", "🇺🇦", "🇧"}},
		{"variation selector", "❤\ufe0f", []string{"❤\ufe0f"}},
		{"devanagari spacing mark", "कि", []string{"कि"}},
		{"thai sara am", "น้ำa", []string{"น้ำ", "a"}},
		{"zwj before letter stays", "a\u200db", []string{"a\u200d", "b"}},
		{"crlf is two", "\r\n", []string{"\r", "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for c := range clusters(tc.text) {
				got = append(got, c)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("clusters = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name       string
		text       string
		encoding   string
		units      int
		segments   int
		perSegment int
	}{
		{"empty", "", "GSM-7", 0, 0, 160},
		{"ascii 160", a(160), "GSM-7", 160, 1, 160},
		{"ascii 161", a(161), "GSM-7", 161, 2, 153},
		{"ascii 306", a(306), "GSM-7", 306, 2, 153},
		{"ascii 307", a(307), "GSM-7", 307, 3, 153},
		// Extension characters cost an escape and themselves.
		{"euro 80", strings.Repeat("€", 80), "GSM-7", 160, 1, 160},
		{"extension tips over 160", a(159) + "{", "GSM-7", 161, 2, 153},
		{"every extension char", "€[]{}\\^~|", "GSM-7", 18, 1, 160},
		// 152 septets, then an escape and € that would straddle 153: the
		// pair starts segment 2, which fills, and one a is left for a third.
		{"escape not split", a(152) + "€" + a(152), "GSM-7", 306, 3, 153},
		{"escape fits exactly", a(151) + "€" + a(153), "GSM-7", 306, 2, 153},
		// Spanish: é ñ ü à ¿ ¡ are in the GSM 03.38 basic set.
		{"spanish in GSM", "¿Qué año? ¡Pingüino!", "GSM-7", 20, 1, 160},
		{"e acute", "é", "GSM-7", 1, 1, 160},
		{"n tilde", "ñ", "GSM-7", 1, 1, 160},
		{"u diaeresis", "ü", "GSM-7", 1, 1, 160},
		{"a grave", "à", "GSM-7", 1, 1, 160},
		{"capital N tilde", "Ñ", "GSM-7", 1, 1, 160},
		// á í ó ú are not, and one of them makes the whole text UCS-2.
		{"spanish not in GSM", "¿Dónde está mi pasaporte?", "UCS-2", 25, 1, 70},
		{"a acute", "á", "UCS-2", 1, 1, 70},
		{"i acute", "í", "UCS-2", 1, 1, 70},
		{"o acute", "ó", "UCS-2", 1, 1, 70},
		{"u acute", "ú", "UCS-2", 1, 1, 70},
		{"one acute in 160", a(159) + "ó", "UCS-2", 160, 3, 67},
		// Arabic and Nepali: UCS-2, one code unit a letter or mark.
		{"arabic", "مرحبا بك", "UCS-2", 8, 1, 70},
		{"arabic 90", strings.Repeat("مرحبا بك ", 10), "UCS-2", 90, 2, 67},
		{"nepali", "मलाई मद्दत चाहिन्छ", "UCS-2", 18, 1, 70},
		{"nepali 140", strings.Repeat("नमस्ते दुनिया ", 10), "UCS-2", 140, 3, 67},
		// 66 units then मा (a letter and its spacing vowel sign, kept
		// together): it starts segment 2, leaving one unit for a third.
		{"nepali mark not split", strings.Repeat("क", 66) + "मा" + strings.Repeat("क", 66), "UCS-2", 134, 3, 67},
		// Emoji outside the BMP take a surrogate pair, two code units.
		{"emoji 35", strings.Repeat("😀", 35), "UCS-2", 70, 1, 70},
		{"emoji 36", strings.Repeat("😀", 36), "UCS-2", 72, 2, 67},
		{"surrogate pair not split", a(66) + "😀" + a(66), "UCS-2", 134, 3, 67},
		{"surrogate pair fits exactly", a(65) + "😀" + a(67), "UCS-2", 134, 2, 67},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Measure(tc.text)
			want := Count{Encoding: tc.encoding, Units: tc.units, Segments: tc.segments, PerSegment: tc.perSegment}
			if got != want {
				t.Errorf("Measure = %+v, want %+v", got, want)
			}
			if tc.text != "" && got.Segments != Segments(tc.text) {
				t.Errorf("Measure says %d segments, Segments %d", got.Segments, Segments(tc.text))
			}
		})
	}
}

func TestMeasureCalculatorTable(t *testing.T) {
	// Measure agrees with Twilio's calculator on every sample but the
	// empty text, which it counts as nothing to send.
	for _, row := range readCalculatorTable(t).Rows {
		got := Measure(row.Text)
		want := row.Segments
		if row.Text == "" {
			want = 0
		}
		if got.Encoding != row.Encoding || got.Segments != want {
			t.Errorf("%s: Measure = %+v, calculator says %s in %d", row.Name, got, row.Encoding, row.Segments)
		}
		if u, _ := units(row.Text); got.Units != u {
			t.Errorf("%s: %d units, counted apart %d", row.Name, got.Units, u)
		}
	}
}
