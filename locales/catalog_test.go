package locales_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lifeline-org/lifeline/locales"
)

func shipped(t *testing.T) *locales.Catalog {
	t.Helper()
	c, err := locales.Load(locales.Files, nil, "en")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameInEveryLanguage may equal the English text: names and codes.
var sameInEveryLanguage = map[string]bool{
	"kw.stop": true, "kw.start": true, // carriers' English keywords stay
}

// sameAsEnglish reports whether a locale declares, in its
// meta.same_as_english list, that id is rightly spelt as in English (the
// Spanish "No", a name).
func sameAsEnglish(c *locales.Catalog, lang, id string) bool {
	for _, s := range strings.Split(c.Raw(lang, "meta.same_as_english"), ",") {
		if strings.TrimSpace(s) == id {
			return true
		}
	}
	return false
}

// TestLocalesComplete proves every locale has every message id of the
// default language, with the same template variables, and no empty or
// untranslated text.
func TestLocalesComplete(t *testing.T) {
	c := shipped(t)
	if len(c.Languages()) < 3 {
		t.Fatalf("want at least en, es, fr; have %v", c.Languages())
	}
	checkComplete(t, c, sameInEveryLanguage, "meta.produced", "meta.reviewed", "lang.name")
}

// consoleSame may equal the English text in the console: names.
var consoleSame = map[string]bool{"console.channel.telegram": true, "console.channel.sms": true}

// TestConsoleLocalesComplete holds the staff console's catalog to the
// same rule, in at least English, Spanish, French and Arabic.
func TestConsoleLocalesComplete(t *testing.T) {
	c, err := locales.LoadConsole(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"en", "es", "fr", "ar"} {
		if !c.Has(l) {
			t.Errorf("the console has no %s texts", l)
		}
	}
	checkComplete(t, c, consoleSame, "meta.produced", "meta.reviewed", "console.lang.name")
}

// checkComplete proves every locale of c has every message id of the
// default language, with the same template variables, no empty or
// untranslated text, and the ids in need.
func checkComplete(t *testing.T, c *locales.Catalog, same map[string]bool, need ...string) {
	t.Helper()
	en := c.IDs("en")
	for _, lang := range c.Languages() {
		ids := c.IDs(lang)
		for _, id := range en {
			if !slices.Contains(ids, id) {
				t.Errorf("%s: missing %s", lang, id)
				continue
			}
			if strings.TrimSpace(c.Raw(lang, id)) == "" {
				t.Errorf("%s: %s is empty", lang, id)
			}
			if a, b := c.VarsIn("en", id), c.VarsIn(lang, id); !slices.Equal(a, b) {
				t.Errorf("%s: %s uses variables %v, English uses %v", lang, id, b, a)
			}
			if lang != "en" && !strings.HasPrefix(id, "meta.") && !same[id] && !sameAsEnglish(c, lang, id) &&
				c.Raw(lang, id) == c.Raw("en", id) {
				t.Errorf("%s: %s is identical to English (untranslated?): %q", lang, id, c.Raw(lang, id))
			}
		}
		for _, id := range ids {
			if !slices.Contains(en, id) {
				t.Errorf("%s: %s is not in English (a stray or misspelt id)", lang, id)
			}
		}
		for _, id := range need {
			if c.Raw(lang, id) == "" {
				t.Errorf("%s: needs %s", lang, id)
			}
		}
	}
}

// TestRenderEverything renders every message in every language with every
// variable supplied: no fallback to another language, no "<no value>".
func TestRenderEverything(t *testing.T) {
	c := shipped(t)
	for _, lang := range c.Languages() {
		for _, id := range c.IDs(lang) {
			data := map[string]string{}
			for _, v := range c.VarsIn(lang, id) {
				data[v] = "X"
			}
			text, err := c.Text(lang, id, data)
			if err != nil {
				t.Errorf("%s %s: %v", lang, id, err)
			}
			if strings.Contains(text, "<no value>") || text == "" {
				t.Errorf("%s %s rendered %q", lang, id, text)
			}
		}
	}
}

// TestRenderCatchesProblems shows the catalog reports a fallback and a
// missing template variable rather than hiding them.
func TestRenderCatchesProblems(t *testing.T) {
	c := shipped(t)
	var id string
	for _, cand := range c.IDs("en") {
		if len(c.VarsIn("en", cand)) > 0 {
			id = cand
			break
		}
	}
	if id == "" {
		t.Fatal("no message with variables to test")
	}
	if _, err := c.Text("en", id, nil); !errors.Is(err, locales.ErrNoValue) {
		t.Errorf("missing variable: got %v, want ErrNoValue", err)
	}
	if _, err := c.Text("es", "no.such.id", nil); err == nil {
		t.Errorf("unknown id: want an error")
	}
	small, err := locales.Load(fstest.MapFS{
		"x.en.yaml": {Data: []byte("a: \"A\"\nb: \"B\"\n")},
		"x.es.yaml": {Data: []byte("a: \"Á\"\n")},
	}, nil, "en")
	if err != nil {
		t.Fatal(err)
	}
	if text, err := small.Text("es", "b", nil); !errors.Is(err, locales.ErrFallback) || text != "B" {
		t.Errorf("fallback: got %q, %v; want the English text and ErrFallback", text, err)
	}
	if text, err := small.Text("es", "a", nil); err != nil || text != "Á" {
		t.Errorf("got %q, %v", text, err)
	}
}

// TestKeptRenderings: a text without a template is rendered once and
// kept, and the same again on every call; a templated one is rendered
// with each call's data; a plain text whose other language has a template
// is not confused with it.
func TestKeptRenderings(t *testing.T) {
	c, err := locales.Load(fstest.MapFS{
		"x.en.yaml": {Data: []byte("plain: \"Menu\"\nhello: \"Hi {{.Name}}\"\nmixed: \"Mixed\"\n")},
		"x.fr.yaml": {Data: []byte("plain: \"Menu FR\"\nhello: \"Salut {{.Name}}\"\nmixed: \"Mixte {{.Name}}\"\n")},
	}, nil, "en")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"Ana", "Bo", "Ana"} {
		if got, err := c.Text("en", "plain", map[string]string{"Name": name}); err != nil || got != "Menu" {
			t.Errorf("call %d: plain = %q, %v", i, got, err)
		}
		if got, err := c.Text("fr", "plain", nil); err != nil || got != "Menu FR" {
			t.Errorf("call %d: fr plain = %q, %v", i, got, err)
		}
		if got, err := c.Text("en", "hello", map[string]string{"Name": name}); err != nil || got != "Hi "+name {
			t.Errorf("call %d: hello = %q, %v", i, got, err)
		}
		if got, err := c.Text("en", "mixed", nil); err != nil || got != "Mixed" {
			t.Errorf("call %d: en mixed = %q, %v", i, got, err)
		}
		if got, err := c.Text("fr", "mixed", map[string]string{"Name": name}); err != nil || got != "Mixte "+name {
			t.Errorf("call %d: fr mixed = %q, %v", i, got, err)
		}
		// An error is kept with its text: every call reports it.
		if _, err := c.Text("fr", "hello", nil); !errors.Is(err, locales.ErrNoValue) {
			t.Errorf("call %d: missing variable: %v", i, err)
		}
	}
}

// TestPlurals renders the plural message in every language for the counts
// where CLDR rules differ (Russian few/many, Arabic zero/two/few/many…): a
// form must exist for each, with the count in it.
func TestPlurals(t *testing.T) {
	c := shipped(t)
	for _, lang := range c.Languages() {
		for _, n := range []int{0, 1, 2, 3, 5, 11, 21, 101} {
			text, err := c.Plural(lang, "jobs.digest_intro", n, nil)
			if err != nil {
				t.Errorf("%s %d: %v", lang, n, err)
			}
			if !strings.Contains(text, fmt.Sprint(n)) && !strings.ContainsAny(text, "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९") {
				t.Errorf("%s %d: %q lacks the count", lang, n, text)
			}
		}
	}
	if one, _ := c.Plural("en", "jobs.digest_intro", 1, nil); !strings.Contains(one, "1 new job this") {
		t.Errorf("en one: %q", one)
	}
	if many, _ := c.Plural("en", "jobs.digest_intro", 21, nil); !strings.Contains(many, "21 new jobs") {
		t.Errorf("en other: %q", many)
	}
}
