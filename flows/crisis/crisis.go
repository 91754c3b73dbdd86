package crisis

import (
	"fmt"
	"hash/maphash"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/lifeline-org/lifeline/flows/overlay"
)

// List is one language's crisis phrases as a programme edits them.
type List struct {
	// Script is the writing system of the language's own script (Latn,
	// Cyrl, Arab, Deva): a message written mostly in it is also checked
	// against this list when the person's language is another one.
	Script string `yaml:"script"`
	// Phrases raise an alarm for people of this language.
	Phrases []string `yaml:"phrases"`
	// Any raise an alarm whatever the person's language.
	Any []string `yaml:"any"`
	// Not are contexts in which a phrase is not an alarm: a match lying
	// wholly inside one of them is ignored.
	Not []string `yaml:"not"`
	// Also names languages whose phrases and contexts count for this
	// language's speakers too: Filipino workers write English as often as
	// Tagalog ("also: [en]"), so tl need not copy en's list.
	Also []string `yaml:"also"`
	// Clitics are letters written joined to the front of a word that a
	// phrase need not spell: Arabic و and ف ("and", "so"), so that "ضربني"
	// also matches "وضربني".
	Clitics []string `yaml:"clitics"`
}

// Hit is a phrase found in a message.
type Hit struct {
	Lang   string // the list it came from
	Phrase string // as written in the list
}

// Detector matches messages against every language's lists.
type Detector struct {
	langs  map[string]*compiled
	any    *index
	echoes map[uint64]bool
	seed   maphash.Seed
}

type compiled struct {
	script  *unicode.RangeTable
	phrases *index
	not     *index
	also    []string
}

// EchoRun is how many words in a row a message must share with one of the
// bot's own texts to count as an echo of it.
const EchoRun = 5

// Load reads <lang>.yaml from base, then from override (nil for none),
// whose lists replace the base's language by language.
func Load(base, override fs.FS) (map[string]*List, error) {
	lists := map[string]*List{}
	err := overlay.Each(base, override, func(name string, l *List) error {
		lists[overlay.Stem(name)] = l
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("crisis/%w", err)
	}
	return lists, nil
}

// Check reports what is wrong with the lists: unknown scripts, phrases
// that normalise to nothing, and languages without a list.
func Check(lists map[string]*List, langs []string) []string {
	var probs []string
	for _, l := range langs {
		if lists[l] == nil || len(lists[l].Phrases) == 0 {
			probs = append(probs, fmt.Sprintf("%s.yaml: no crisis phrases for language %q", l, l))
		}
	}
	for _, lang := range sortedKeys(lists) {
		l := lists[lang]
		if scripts[l.Script] == nil {
			probs = append(probs, fmt.Sprintf("%s.yaml: script %q is not one of Latn, Cyrl, Arab, Deva", lang, l.Script))
		}
		for _, c := range l.Clitics {
			if len(Words(c)) != 1 {
				probs = append(probs, fmt.Sprintf("%s.yaml: clitic %q is not one word", lang, c))
			}
		}
		for _, a := range l.Also {
			if lists[a] == nil {
				probs = append(probs, fmt.Sprintf("%s.yaml: also names %q, which has no list", lang, a))
			}
		}
		for _, group := range [][]string{l.Phrases, l.Any, l.Not} {
			for _, p := range group {
				if _, err := compile(p); err != nil {
					probs = append(probs, fmt.Sprintf("%s.yaml: %q: %v", lang, p, err))
				}
			}
		}
	}
	return probs
}

var scripts = map[string]*unicode.RangeTable{
	"Latn": unicode.Latin, "Cyrl": unicode.Cyrillic, "Arab": unicode.Arabic, "Deva": unicode.Devanagari,
}

// New compiles lists into a Detector. echoes are the bot's own texts, in
// every language: a phrase found inside a run of EchoRun words copied from
// one of them (a person forwarding a lesson, or the crisis reply itself)
// is no alarm. Phrases that do not compile are skipped (Check reports
// them).
func New(lists map[string]*List, echoes []string) *Detector {
	d := &Detector{langs: map[string]*compiled{}, echoes: map[uint64]bool{}, seed: maphash.MakeSeed()}
	var any []pattern
	for _, lang := range sortedKeys(lists) {
		l := *lists[lang]
		l.Clitics = nil
		for _, c := range lists[lang].Clitics {
			if w := Words(c); len(w) == 1 {
				l.Clitics = append(l.Clitics, w[0])
			}
		}
		d.langs[lang] = &compiled{
			script:  scripts[l.Script],
			phrases: newIndex(compileAll(l.Phrases, lang, l.Clitics)),
			not:     newIndex(compileAll(l.Not, lang, l.Clitics)),
			also:    l.Also,
		}
		any = append(any, compileAll(l.Any, lang, l.Clitics)...)
	}
	d.any = newIndex(any)
	for _, e := range echoes {
		w := Words(e)
		for i := 0; i+EchoRun <= len(w); i++ {
			d.echoes[d.hash(w[i:i+EchoRun])] = true
		}
	}
	return d
}

func (d *Detector) hash(words []string) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	for _, w := range words {
		h.WriteString(w)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// Languages returns the languages that have a list.
func (d *Detector) Languages() []string { return sortedKeys(d.langs) }

// Match reports the first crisis phrase in text for a person whose
// language is lang. It checks lang's phrases, those of the languages its
// list names in also, every list's cross-language phrases, and the phrases of each language whose script the message is
// mostly written in when that is not lang's script (an English-speaking
// profile writing in Cyrillic is checked against Russian). An empty lang
// (a person who has not chosen one yet) checks every language.
func (d *Detector) Match(lang, text string) (Hit, bool) {
	words := Words(text)
	if len(words) == 0 {
		return Hit{}, false
	}
	echoed := d.echoed(words)
	var langs []string
	if c := d.langs[lang]; c != nil {
		langs = append(langs, lang)
		for _, other := range c.also {
			if d.langs[other] != nil && !slices.Contains(langs, other) {
				langs = append(langs, other)
			}
		}
		if sc := dominantScript(text); sc != nil && sc != c.script {
			for _, other := range sortedKeys(d.langs) {
				if d.langs[other].script == sc && !slices.Contains(langs, other) {
					langs = append(langs, other)
				}
			}
		}
	} else {
		langs = sortedKeys(d.langs)
	}
	var blocked [][2]int
	for _, l := range langs {
		blocked = d.langs[l].not.cover(words, blocked)
	}
	for _, l := range langs {
		if p, ok := d.langs[l].phrases.find(words, blocked, echoed); ok {
			return Hit{Lang: l, Phrase: p.src}, true
		}
	}
	if p, ok := d.any.find(words, blocked, echoed); ok {
		return Hit{Lang: p.lang, Phrase: p.src}, true
	}
	return Hit{}, false
}

// echoed marks the words that lie in a run of EchoRun copied from one of
// the bot's texts.
func (d *Detector) echoed(words []string) []bool {
	if len(d.echoes) == 0 || len(words) < EchoRun {
		return nil
	}
	var marks []bool
	for i := 0; i+EchoRun <= len(words); i++ {
		if d.echoes[d.hash(words[i:i+EchoRun])] {
			if marks == nil {
				marks = make([]bool, len(words))
			}
			for j := i; j < i+EchoRun; j++ {
				marks[j] = true
			}
		}
	}
	return marks
}

// index finds the patterns that may match at a word without trying them
// all: by their first word, or by the first runes of a first prefix.
type index struct {
	pats  []pattern
	exact map[string][]int // first word -> patterns
	pre   map[string][]int // up to preKey runes of a first prefix -> patterns
	// clitics are every pattern's clitics: a word is also looked up
	// without them.
	clitics []string
}

const preKey = 3

func newIndex(pats []pattern) *index {
	ix := &index{pats: pats, exact: map[string][]int{}, pre: map[string][]int{}}
	for i, p := range pats {
		for _, a := range p.toks[0].alts {
			if !a.prefix {
				ix.exact[a.word] = append(ix.exact[a.word], i)
				continue
			}
			k := firstRunes(a.word, preKey)
			ix.pre[k] = append(ix.pre[k], i)
		}
		for _, c := range p.clitics {
			ix.clitics = append(ix.clitics, c)
		}
	}
	slices.Sort(ix.clitics)
	ix.clitics = slices.Compact(ix.clitics)
	return ix
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// each calls f with every pattern that may match at words[at], until f
// returns false.
// A pattern may be offered more than once (by two of its choices).
func (ix *index) each(words []string, at int, f func(p *pattern) bool) {
	for _, w := range withoutClitics(words[at], ix.clitics) {
		for _, i := range ix.exact[w] {
			if !f(&ix.pats[i]) {
				return
			}
		}
		seen := ""
		for n := 1; n <= preKey; n++ {
			k := firstRunes(w, n)
			if k == seen {
				break // w is shorter than n runes
			}
			seen = k
			for _, i := range ix.pre[k] {
				if !f(&ix.pats[i]) {
					return
				}
			}
		}
	}
}

// find returns a pattern that matches words somewhere not wholly inside a
// negative context nor an echo.
func (ix *index) find(words []string, blocked [][2]int, echoed []bool) (pattern, bool) {
	var found *pattern
	for start := range words {
		ix.each(words, start, func(p *pattern) bool {
			end, ok := p.matchAt(words, start)
			if ok && !inside(start, end, blocked) && !allMarked(echoed, start, end) {
				found = p
			}
			return found == nil
		})
		if found != nil {
			return *found, true
		}
	}
	return pattern{}, false
}

// cover adds the spans where a pattern matches.
func (ix *index) cover(words []string, spans [][2]int) [][2]int {
	for start := range words {
		ix.each(words, start, func(p *pattern) bool {
			if end, ok := p.matchAt(words, start); ok {
				spans = append(spans, [2]int{start, end})
			}
			return true
		})
	}
	return spans
}

func inside(start, end int, spans [][2]int) bool {
	for _, s := range spans {
		if s[0] <= start && end <= s[1] {
			return true
		}
	}
	return false
}

func allMarked(marks []bool, start, end int) bool {
	if marks == nil {
		return false
	}
	for i := start; i < end; i++ {
		if !marks[i] {
			return false
		}
	}
	return true
}

// dominantScript returns the script of most of text's letters, among the
// scripts lists use.
func dominantScript(text string) *unicode.RangeTable {
	counts := map[*unicode.RangeTable]int{}
	for _, r := range text {
		if !unicode.IsLetter(r) {
			continue
		}
		for _, t := range scripts {
			if unicode.Is(t, r) {
				counts[t]++
			}
		}
	}
	var best *unicode.RangeTable
	for t, n := range counts {
		if best == nil || n > counts[best] {
			best = t
		}
	}
	return best
}

// pattern is a compiled phrase: a sequence of word tests.
type pattern struct {
	src, lang string
	toks      []tok
	clitics   []string // letters that may be attached before a word
}

type tokKind int

const (
	slot   tokKind = iota // one word, one of alts
	anyOne                // *: any one word
	gap                   // **: up to maxGap words, or none
)

const maxGap = 3

type tok struct {
	kind tokKind
	alts []alt
}

// alt is one way a word slot matches: the word, or (prefix) any word
// starting so.
type alt struct {
	word   string
	prefix bool
}

func (a alt) match(w string) bool {
	if a.prefix {
		return strings.HasPrefix(w, a.word)
	}
	return w == a.word
}

// compile turns a phrase into a pattern. Words are as Words makes them; a
// word ending in * matches any word it begins ("suicid*" matches
// "suicide", "suicidal"); (a|b*|c) is one word that is any of them; a lone
// * is any one word and ** up to three words or none ("took ** passport*").
func compile(src string) (pattern, error) {
	p := pattern{src: src}
	for _, f := range strings.Fields(src) {
		switch {
		case f == "*":
			p.toks = append(p.toks, tok{kind: anyOne})
			continue
		case f == "**":
			p.toks = append(p.toks, tok{kind: gap})
			continue
		}
		if inner, ok := strings.CutPrefix(f, "("); ok {
			inner, ok = strings.CutSuffix(inner, ")")
			if !ok {
				return p, fmt.Errorf("%q: a ( without its )", f)
			}
			var t tok
			for _, a := range strings.Split(inner, "|") {
				body, isPrefix := strings.CutSuffix(a, "*")
				ws := Words(body)
				if len(ws) != 1 {
					return p, fmt.Errorf("%q: each choice in ( | ) must be one word", f)
				}
				t.alts = append(t.alts, alt{word: ws[0], prefix: isPrefix})
			}
			p.toks = append(p.toks, t)
			continue
		}
		body, isPrefix := strings.CutSuffix(f, "*")
		ws := Words(body)
		for i, w := range ws {
			p.toks = append(p.toks, tok{alts: []alt{{word: w, prefix: isPrefix && i == len(ws)-1}}})
		}
	}
	if !slices.ContainsFunc(p.toks, func(t tok) bool { return t.kind == slot }) {
		return p, fmt.Errorf("no words")
	}
	if t := p.toks[0]; t.kind != slot {
		return p, fmt.Errorf("starts with a wildcard")
	}
	if t := p.toks[len(p.toks)-1]; t.kind != slot {
		return p, fmt.Errorf("ends with a wildcard")
	}
	return p, nil
}

func compileAll(srcs []string, lang string, clitics []string) []pattern {
	var out []pattern
	for _, s := range srcs {
		if p, err := compile(s); err == nil {
			p.lang = lang
			p.clitics = clitics
			out = append(out, p)
		}
	}
	return out
}

// matchAt reports whether p matches words from start, and where it ends.
func (p *pattern) matchAt(words []string, start int) (int, bool) {
	return p.matchToks(p.toks, words, start)
}

func (p *pattern) matchToks(toks []tok, words []string, i int) (int, bool) {
	if len(toks) == 0 {
		return i, true
	}
	t := toks[0]
	if t.kind == gap {
		for n := 0; n <= maxGap && i+n <= len(words); n++ {
			if end, ok := p.matchToks(toks[1:], words, i+n); ok {
				return end, true
			}
		}
		return 0, false
	}
	if i >= len(words) {
		return 0, false
	}
	if t.kind == slot && !p.slotMatch(t, words[i]) {
		return 0, false
	}
	return p.matchToks(toks[1:], words, i+1)
}

// slotMatch reports whether w fills the slot, as it is or without one
// attached clitic (Arabic وضربني is و + ضربني).
func (p *pattern) slotMatch(t tok, w string) bool {
	for _, cand := range withoutClitics(w, p.clitics) {
		for _, a := range t.alts {
			if a.match(cand) {
				return true
			}
		}
	}
	return false
}

// withoutClitics returns w and w without the clitics it starts with, up
// to two of them (Arabic والباسبور is و + ال + باسبور); a word is never
// reduced to nothing.
func withoutClitics(w string, clitics []string) []string {
	out := []string{w}
	if len(clitics) == 0 {
		return out
	}
	for from := 0; from < len(out) && from < 3; from++ {
		for _, c := range clitics {
			if rest, ok := strings.CutPrefix(out[from], c); ok && rest != "" && !slices.Contains(out, rest) {
				out = append(out, rest)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
