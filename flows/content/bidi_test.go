package content_test

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
)

var (
	isolated = regexp.MustCompile("\u2068[^\u2069]*\u2069")
	latin    = regexp.MustCompile(`\p{Latin}+`)
	tmplTag  = regexp.MustCompile(`{{[^}]*}}`)
)

// TestPackValuesIsolatedInArabic renders, with every shipped pack, every
// Arabic message that takes a pack variable: each value inserted must sit
// in bidi isolates, and no Latin word may stand outside them except those
// the Arabic text itself is written with (as "Telegram").
func TestPackValuesIsolatedInArabic(t *testing.T) {
	const lang = "ar"
	base := load(t)
	for _, name := range slices.Sorted(maps.Keys(base.Packs)) {
		c, err := content.Load("", "en", name)
		if err != nil {
			t.Fatal(err)
		}
		data := c.DataFor(lang)
		rendered := 0
		for _, id := range c.Catalog.IDs(lang) {
			var vars []string
			for _, v := range c.Catalog.VarsIn(lang, id) {
				if _, ok := c.Pack.Entries[v]; ok {
					vars = append(vars, v)
				}
			}
			if len(vars) == 0 {
				continue
			}
			text, err := c.Catalog.Text(lang, id, data)
			if err != nil {
				text, err = c.Catalog.Plural(lang, id, 2, data)
			}
			if err != nil {
				t.Errorf("%s: %s: %v", name, id, err)
				continue
			}
			rendered++
			for _, v := range vars {
				if want := flows.Isolate(c.Pack.Entries[v].Value.In(lang)); !strings.Contains(text, want) {
					t.Errorf("%s: %s: %s not inserted as %q:\n%s", name, id, v, want, text)
				}
			}
			own := latin.FindAllString(tmplTag.ReplaceAllString(c.Catalog.Raw(lang, id), ""), -1)
			for _, w := range latin.FindAllString(isolated.ReplaceAllString(text, ""), -1) {
				if !slices.Contains(own, w) {
					t.Errorf("%s: %s: Latin word %q outside isolates:\n%s", name, id, w, text)
				}
			}
		}
		if rendered == 0 {
			t.Errorf("%s: no Arabic message takes a pack variable", name)
		}
	}
}

// TestShippedPacksTranslated wants a text in every language of the
// catalog for every human-readable entry of the shipped packs.
func TestShippedPacksTranslated(t *testing.T) {
	c := load(t)
	for _, name := range slices.Sorted(maps.Keys(c.Packs)) {
		for _, p := range flows.CheckPackLanguages(c.Packs[name], c.Catalog.Languages()) {
			t.Error(p)
		}
	}
}
