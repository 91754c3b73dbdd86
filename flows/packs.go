package flows

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-org/lifeline/flows/overlay"
)

// Pack is a country resource pack: the numbers and organisations a person
// can turn to, each with its source and the date it was last checked.
// Lessons insert its entries through template variables ({{.hotline}}).
type Pack struct {
	Country string           `yaml:"country"`
	Entries map[string]Entry `yaml:"entries"`
	File    string           `yaml:"-"`
}

// Entry is one resource.
type Entry struct {
	Value   Text   `yaml:"value"`
	Source  string `yaml:"source"`
	Checked string `yaml:"checked"` // YYYY-MM-DD
}

// PackLang is the language of a pack value written as one plain text, and
// the one a language without its own text falls back to.
const PackLang = "en"

// Text is what a person reads of a pack entry, by language. In YAML it is
// either one text (English, used for every language) or a map from
// language to text ({en: ..., es: ...}).
type Text map[string]string

// UnmarshalYAML reads a plain text as the PackLang text, or a map of texts.
func (t *Text) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*t = Text{PackLang: s}
		return nil
	case yaml.MappingNode:
		m := map[string]string{}
		if err := n.Decode(&m); err != nil {
			return fmt.Errorf("line %d: value: each language needs one text: %w", n.Line, err)
		}
		*t = m
		return nil
	}
	return fmt.Errorf("line %d: value must be a text or a map of language to text ({en: ..., es: ...})", n.Line)
}

// In returns the text for lang: its own, its base language's (pt for
// pt-BR), else the PackLang text.
func (t Text) In(lang string) string {
	if s := t[lang]; s != "" {
		return s
	}
	if base, _, ok := strings.Cut(lang, "-"); ok && t[base] != "" {
		return t[base]
	}
	return t[PackLang]
}

// neutral reports whether every text of t reads the same in any language:
// it has no letters (a phone number).
func (t Text) neutral() bool {
	for _, s := range t {
		if strings.IndexFunc(s, unicode.IsLetter) >= 0 {
			return false
		}
	}
	return true
}

// PackKeys are the entries every pack must have.
var PackKeys = []string{"emergency", "hotline", "inspectorate", "legal_aid", "union", "minimum_wage"}

// rightToLeft lists the languages written right to left.
var rightToLeft = []string{"ar", "fa", "he", "ur", "ps", "dv", "yi"}

// RightToLeft reports whether lang (or its base language) is written right
// to left.
func RightToLeft(lang string) bool {
	base, _, _ := strings.Cut(lang, "-")
	return slices.Contains(rightToLeft, base)
}

// Isolate marks s as a run of its own direction (U+2068 FIRST STRONG
// ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE), so a Latin name or a number
// inside right-to-left text is not reordered with its neighbours.
func Isolate(s string) string { return "\u2068" + s + "\u2069" }

// Data returns the pack as template data in PackLang.
func (p *Pack) Data() map[string]string { return p.DataFor(PackLang) }

// DataFor returns the pack as template data for rendering a text in lang:
// each entry in lang (else in PackLang) and, for a right-to-left language,
// isolated (Isolate). Use Entry.Value.In for a value outside a text.
func (p *Pack) DataFor(lang string) map[string]string {
	rtl := RightToLeft(lang)
	m := make(map[string]string, len(p.Entries))
	for k, e := range p.Entries {
		v := e.Value.In(lang)
		if rtl && v != "" {
			v = Isolate(v)
		}
		m[k] = v
	}
	return m
}

// LoadPacks reads every *.yaml pack from base, then from override.
func LoadPacks(base, override fs.FS) (map[string]*Pack, error) {
	packs := map[string]*Pack{}
	err := overlay.Each(base, override, func(name string, p *Pack) error {
		if p.Country == "" {
			p.Country = overlay.Stem(name)
		}
		p.File = name
		packs[p.Country] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return packs, nil
}

// CheckPack reports missing entries, entries without a source, and (as
// warnings) entries checked more than a year before now.
func CheckPack(p *Pack, now time.Time) []Problem {
	var probs []Problem
	for _, k := range PackKeys {
		if _, ok := p.Entries[k]; !ok {
			probs = append(probs, Problem{File: p.File, Node: k, Reason: "entry is missing"})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Entries)) {
		e := p.Entries[k]
		switch {
		case len(e.Value) > 0 && e.Value[PackLang] == "":
			probs = append(probs, Problem{File: p.File, Node: k, Reason: "value needs an " + PackLang + " text, used for languages without their own"})
		case e.Value[PackLang] == "" || e.Source == "":
			probs = append(probs, Problem{File: p.File, Node: k, Reason: "entry needs a value and a source"})
		}
		d, err := time.Parse(time.DateOnly, e.Checked)
		switch {
		case err != nil:
			probs = append(probs, Problem{File: p.File, Node: k, Reason: "checked must be a date like 2026-01-31"})
		case now.Sub(d) > 365*24*time.Hour:
			probs = append(probs, Problem{File: p.File, Node: k, Reason: "last checked " + e.Checked + ", over a year ago", Warning: true})
		}
	}
	return probs
}

// CheckPackLanguages warns about every entry that has no text in some of
// langs (the catalog's languages), where PackLang is used instead, and
// about texts in a language not in langs. A value without letters (a phone
// number) reads the same in every language and needs none.
func CheckPackLanguages(p *Pack, langs []string) []Problem {
	var probs []Problem
	for _, k := range slices.Sorted(maps.Keys(p.Entries)) {
		e := p.Entries[k]
		if e.Value[PackLang] == "" {
			continue // CheckPack reports it
		}
		var unknown []string
		for l := range e.Value {
			if l != PackLang && !slices.Contains(langs, l) {
				unknown = append(unknown, l)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			probs = append(probs, Problem{File: p.File, Node: k, Reason: "text in " + strings.Join(unknown, ", ") + ", not a language of the locales", Warning: true})
		}
		if e.Value.neutral() {
			continue
		}
		var missing []string
		for _, l := range langs {
			if l != PackLang && e.Value[l] == "" {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 {
			probs = append(probs, Problem{File: p.File, Node: k, Reason: "no " + strings.Join(missing, ", ") + " text (English is used)", Warning: true})
		}
	}
	return probs
}
