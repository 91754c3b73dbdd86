package locales

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// Files are the shipped locale files.
//
//go:embed *.yaml
var Files embed.FS

// CrisisFiles are the shipped crisis phrase lists, crisis/<tag>.yaml (read
// by package flows/crisis): not messages, but words to listen for.
//
//go:embed crisis/*.yaml
var CrisisFiles embed.FS

// ConsoleFiles are the staff console's texts, console/console.<tag>.yaml:
// a catalog of their own, since staff and survivors read different
// languages.
//
//go:embed console/*.yaml
var ConsoleFiles embed.FS

// LoadConsole loads the console's catalog, English by default; override
// (nil for none) adds languages or replaces texts.
func LoadConsole(override fs.FS) (*Catalog, error) {
	sub, err := fs.Sub(ConsoleFiles, "console")
	if err != nil {
		return nil, err
	}
	return Load(sub, override, "en")
}

// Catalog renders messages in every loaded language, and gives their raw
// texts to whoever indexes them (flows.NewLexicon reads the keyword lists).
type Catalog struct {
	bundle   *i18n.Bundle
	def      string
	langs    []string
	raw      map[string]map[string]any // lang -> id -> string or plural map
	localize map[string]*i18n.Localizer
	// plain keeps the renderings of texts that have no template in the
	// asked language, by lang+"\x00"+id: they are the same whatever the
	// data, and rendering one costs a tenth of a reply's CPU.
	plain sync.Map
}

// rendered is a rendering kept in Catalog.plain.
type rendered struct {
	text string
	err  error
}

// ErrFallback reports that a message was missing in the asked language and
// another language's text was used.
var ErrFallback = errors.New("message missing in this language")

// ErrNoValue reports that a template variable was not supplied.
var ErrNoValue = errors.New("template variable not supplied")

// Load reads every <tag>.yaml in base and lets override (nil for none) add
// languages or replace messages. def is the default language.
func Load(base, override fs.FS, def string) (*Catalog, error) {
	c := &Catalog{
		def:      def,
		raw:      map[string]map[string]any{},
		localize: map[string]*i18n.Localizer{},
	}
	defTag, err := language.Parse(def)
	if err != nil {
		return nil, fmt.Errorf("default language %q: %w", def, err)
	}
	c.bundle = i18n.NewBundle(defTag)
	c.bundle.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	if err := EachFile(c.loadFile, base, override); err != nil {
		return nil, err
	}
	if c.raw[def] == nil {
		return nil, fmt.Errorf("default language %q has no locale file", def)
	}
	for l := range c.raw {
		c.langs = append(c.langs, l)
	}
	sort.Slice(c.langs, func(i, j int) bool {
		// The default language first, then by tag.
		if (c.langs[i] == def) != (c.langs[j] == def) {
			return c.langs[i] == def
		}
		return c.langs[i] < c.langs[j]
	})
	for _, l := range c.langs {
		c.localize[l] = i18n.NewLocalizer(c.bundle, l)
	}
	return c, nil
}

// EachFile calls f with every *.yaml at the top of each file system in
// turn (nil ones skipped): the shipped texts, then an override's.
func EachFile(f func(fsys fs.FS, name string) error, fsyss ...fs.FS) error {
	for _, fsys := range fsyss {
		if fsys == nil {
			continue
		}
		names, err := fs.Glob(fsys, "*.yaml")
		if err != nil {
			return err
		}
		for _, name := range names {
			if err := f(fsys, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Catalog) loadFile(fsys fs.FS, name string) error {
	buf, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	lang := strings.TrimSuffix(path.Base(name), ".yaml")
	if i := strings.LastIndexByte(lang, '.'); i >= 0 {
		lang = lang[i+1:]
	}
	if _, err := language.Parse(lang); err != nil {
		return fmt.Errorf("%s: file name is not a language tag: %w", name, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(buf, &m); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := c.bundle.ParseMessageFileBytes(buf, name); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if c.raw[lang] == nil {
		c.raw[lang] = map[string]any{}
	}
	for k, v := range m {
		c.raw[lang][k] = v
	}
	return nil
}

// Languages returns the loaded language tags, the default first.
func (c *Catalog) Languages() []string { return slices.Clone(c.langs) }

// Default returns the default language.
func (c *Catalog) Default() string { return c.def }

// Has reports whether lang is loaded.
func (c *Catalog) Has(lang string) bool { return c.raw[lang] != nil }

// Text renders message id in lang with data. On a problem it still returns
// the best text it has (so a person gets something) and an error that wraps
// ErrFallback or ErrNoValue, or says the id is unknown.
func (c *Catalog) Text(lang, id string, data map[string]string) (string, error) {
	return c.render(lang, id, data, nil)
}

// Plural renders a message with plural forms for count.
func (c *Catalog) Plural(lang, id string, count int, data map[string]string) (string, error) {
	return c.render(lang, id, data, count)
}

func (c *Catalog) render(lang, id string, data map[string]string, count any) (string, error) {
	if count == nil {
		if raw, ok := c.raw[lang][id].(string); ok && !strings.Contains(raw, "{{") {
			key := lang + "\x00" + id
			if r, ok := c.plain.Load(key); ok {
				return r.(rendered).text, r.(rendered).err
			}
			text, err := c.renderNew(lang, id, data, count)
			c.plain.Store(key, rendered{text, err})
			return text, err
		}
	}
	return c.renderNew(lang, id, data, count)
}

func (c *Catalog) renderNew(lang, id string, data map[string]string, count any) (string, error) {
	loc := c.localize[lang]
	if loc == nil {
		loc = c.localize[c.def]
		lang = c.def
	}
	td := map[string]any{}
	for k, v := range data {
		td[k] = v
	}
	if count != nil {
		td["Count"] = count
	}
	text, tag, err := loc.LocalizeWithTag(&i18n.LocalizeConfig{MessageID: id, TemplateData: td, PluralCount: count})
	var nf *i18n.MessageNotFoundErr
	switch {
	case errors.As(err, &nf) && text != "":
		err = fmt.Errorf("%s in %s: %w", id, lang, ErrFallback)
	case err != nil:
		return id, fmt.Errorf("render %s in %s: %w", id, lang, err)
	case tag != language.Make(lang):
		err = fmt.Errorf("%s in %s: %w", id, lang, ErrFallback)
	}
	if strings.Contains(text, "<no value>") {
		err = errors.Join(err, fmt.Errorf("%s in %s: %w", id, lang, ErrNoValue))
	}
	return text, err
}

// Raw returns the unrendered text of id in lang ("" when absent). For a
// plural message it returns the "other" form.
func (c *Catalog) Raw(lang, id string) string {
	switch v := c.raw[lang][id].(type) {
	case string:
		return v
	case map[string]any:
		s, _ := v["other"].(string)
		return s
	}
	return ""
}

// IDs returns every message id of lang, sorted.
func (c *Catalog) IDs(lang string) []string {
	ids := make([]string, 0, len(c.raw[lang]))
	for id := range c.raw[lang] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Missing lists the languages in which id is absent.
func (c *Catalog) Missing(id string) []string {
	var out []string
	for _, l := range c.langs {
		if _, ok := c.raw[l][id]; !ok {
			out = append(out, l)
		}
	}
	return out
}

var varRE = regexp.MustCompile(`{{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)`)

// Vars lists the template variables id uses in any language (Count, which
// plural messages always get, is left out).
func (c *Catalog) Vars(id string) []string {
	set := map[string]bool{}
	for _, l := range c.langs {
		for _, text := range forms(c.raw[l][id]) {
			for _, m := range varRE.FindAllStringSubmatch(text, -1) {
				if m[1] != "Count" {
					set[m[1]] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// VarsIn lists the template variables id uses in lang alone.
func (c *Catalog) VarsIn(lang, id string) []string {
	var out []string
	for _, text := range forms(c.raw[lang][id]) {
		for _, m := range varRE.FindAllStringSubmatch(text, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	sort.Strings(out)
	return out
}

// forms returns every text form of a raw message.
func forms(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case map[string]any:
		var out []string
		for _, f := range []string{"zero", "one", "two", "few", "many", "other"} {
			if s, ok := v[f].(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
