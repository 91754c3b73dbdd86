package flows

import (
	"io/fs"
	"maps"
	"slices"
	"time"

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
	Value   string `yaml:"value"`
	Source  string `yaml:"source"`
	Checked string `yaml:"checked"` // YYYY-MM-DD
}

// PackKeys are the entries every pack must have.
var PackKeys = []string{"emergency", "hotline", "inspectorate", "legal_aid", "union", "minimum_wage"}

// Data returns the pack as template data.
func (p *Pack) Data() map[string]string {
	m := make(map[string]string, len(p.Entries))
	for k, e := range p.Entries {
		m[k] = e.Value
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
		if e.Value == "" || e.Source == "" {
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
