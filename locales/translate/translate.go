package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/lifeline-org/lifeline/locales"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// Source is the language every other one is translated from.
const Source = "en"

// pluralOrder is the CLDR order of plural forms.
var pluralOrder = []string{"zero", "one", "two", "few", "many", "other"}

// text is one message: a plain text, or plural forms (CLDR category ->
// text) when forms is not nil.
type text struct {
	plain string
	forms map[string]string
}

func (t text) plural() bool { return t.forms != nil }

// all returns every text of the message, plural forms in CLDR order.
func (t text) all() []string {
	if !t.plural() {
		return []string{t.plain}
	}
	var out []string
	for _, f := range pluralOrder {
		if s, ok := t.forms[f]; ok {
			out = append(out, s)
		}
	}
	return out
}

func (t text) equal(u text) bool {
	if t.plural() != u.plural() {
		return false
	}
	if !t.plural() {
		return t.plain == u.plain
	}
	if len(t.forms) != len(u.forms) {
		return false
	}
	for f, s := range t.forms {
		if u.forms[f] != s {
			return false
		}
	}
	return true
}

// hash is the short sha256 of the text, as review files record it: of the
// text itself, or for plural forms of "form: text\n" in CLDR order.
func (t text) hash() string {
	h := sha256.New()
	if !t.plural() {
		h.Write([]byte(t.plain))
	} else {
		for _, f := range pluralOrder {
			if s, ok := t.forms[f]; ok {
				fmt.Fprintf(h, "%s: %s\n", f, s)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// form returns the text of plural form f, falling back on "other" (the
// English source has fewer forms than most languages).
func (t text) form(f string) string {
	if s, ok := t.forms[f]; ok {
		return s
	}
	return t.forms["other"]
}

func parseText(v any) (text, bool) {
	switch v := v.(type) {
	case string:
		return text{plain: v}, true
	case map[string]any:
		t := text{forms: map[string]string{}}
		for f, s := range v {
			str, ok := s.(string)
			if !ok || !slices.Contains(pluralOrder, f) {
				return text{}, false
			}
			t.forms[f] = str
		}
		return t, true
	}
	return text{}, false
}

// entry is one message of one language, with the file it lives in.
type entry struct {
	text text
	file string // file name, e.g. core.es.yaml
	part string // the part of the file name before the tag ("core"); "" for <tag>.yaml
}

// Review is what a review file records of one message.
type Review struct {
	Source   string `yaml:"source"`   // short hash of the English text
	Reviewed bool   `yaml:"reviewed"` // a reviewer approved the translation
}

// State is the review state of one translated message.
type State int

// The states of a message in a language.
const (
	Missing     State = iota // no translation
	Unreviewed               // translated, not reviewed
	NeedsReview              // the English text changed since it was translated or reviewed
	Reviewed                 // reviewed from the current English text
)

func (s State) String() string {
	return [...]string{"missing", "not reviewed", "needs review", "reviewed"}[s]
}

// Project is a locale directory read into memory.
type Project struct {
	dir     string
	base    fs.FS
	msgs    map[string]map[string]*entry // lang -> id -> message
	reviews map[string]map[string]Review // lang -> id -> review
	langs   []string                     // every language but the source, sorted
}

// Open reads the locale files of dir over base (nil for none): a file of
// dir replaces the messages it holds, as CONTENT_DIR does. Review files are
// read from dir/review. Ids starting "meta." (who translated, when) are not
// translations and are left out.
func Open(dir string, base fs.FS) (*Project, error) {
	p := &Project{dir: dir, base: base, msgs: map[string]map[string]*entry{}, reviews: map[string]map[string]Review{}}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	if err := locales.EachFile(p.readFile, base, os.DirFS(dir)); err != nil {
		return nil, err
	}
	if len(p.msgs[Source]) == 0 {
		return nil, fmt.Errorf("%s: no English (%s) texts", dir, Source)
	}
	for l := range p.msgs {
		if l != Source {
			p.langs = append(p.langs, l)
		}
	}
	sort.Strings(p.langs)
	for _, l := range p.langs {
		r, err := readReviews(filepath.Join(dir, "review", l+".yaml"))
		if err != nil {
			return nil, err
		}
		p.reviews[l] = r
	}
	return p, nil
}

// splitName splits core.es.yaml into "core" and "es" (es.yaml into "", "es").
func splitName(name string) (part, lang string) {
	s := strings.TrimSuffix(path.Base(name), ".yaml")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

func (p *Project) readFile(fsys fs.FS, name string) error {
	buf, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	part, lang := splitName(name)
	if _, err := language.Parse(lang); err != nil {
		return fmt.Errorf("%s: file name is not a language tag: %w", name, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(buf, &m); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if p.msgs[lang] == nil {
		p.msgs[lang] = map[string]*entry{}
	}
	for id, v := range m {
		if strings.HasPrefix(id, "meta.") {
			continue
		}
		t, ok := parseText(v)
		if !ok {
			return fmt.Errorf("%s: %s: neither a text nor plural forms", name, id)
		}
		p.msgs[lang][id] = &entry{text: t, file: name, part: part}
	}
	return nil
}

func readReviews(name string) (map[string]Review, error) {
	out := map[string]Review{}
	buf, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(buf, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if out == nil {
		out = map[string]Review{}
	}
	return out, nil
}

// Languages lists the translated languages (every one but English).
func (p *Project) Languages() []string { return slices.Clone(p.langs) }

// IDs lists the English message ids, sorted.
func (p *Project) IDs() []string {
	ids := make([]string, 0, len(p.msgs[Source]))
	for id := range p.msgs[Source] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// State returns the review state of message id in lang.
func (p *Project) State(lang, id string) State {
	src, ok := p.msgs[Source][id]
	tr, ok2 := p.msgs[lang][id]
	if !ok || !ok2 || emptyText(tr.text) {
		return Missing
	}
	r, ok := p.reviews[lang][id]
	switch {
	case !ok:
		return Unreviewed
	case r.Source != src.text.hash():
		return NeedsReview
	case r.Reviewed:
		return Reviewed
	}
	return Unreviewed
}

func emptyText(t text) bool {
	for _, s := range t.all() {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// LangStatus counts the messages of one language by state. Translated is
// Reviewed + NeedsReview + Unreviewed; Messages is Translated + Missing.
type LangStatus struct {
	Lang                             string
	Messages, Translated, Reviewed   int
	NeedsReview, Unreviewed, Missing int
	NeedsReviewIDs, MissingIDs       []string
}

// Status counts, for every language, its messages by state.
func (p *Project) Status() []LangStatus {
	var out []LangStatus
	for _, l := range p.langs {
		s := LangStatus{Lang: l}
		for _, id := range p.IDs() {
			s.Messages++
			switch p.State(l, id) {
			case Missing:
				s.Missing++
				s.MissingIDs = append(s.MissingIDs, id)
				continue
			case Reviewed:
				s.Reviewed++
			case NeedsReview:
				s.NeedsReview++
				s.NeedsReviewIDs = append(s.NeedsReviewIDs, id)
			case Unreviewed:
				s.Unreviewed++
			}
			s.Translated++
		}
		out = append(out, s)
	}
	return out
}

var varRE = regexp.MustCompile(`{{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)`)

// placeholders lists the distinct {{.x}} of the texts, sorted.
func placeholders(texts ...string) []string {
	var out []string
	for _, s := range texts {
		for _, m := range varRE.FindAllStringSubmatch(s, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	sort.Strings(out)
	return out
}

func braces(vars []string) string {
	if len(vars) == 0 {
		return "none"
	}
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = "{{." + v + "}}"
	}
	return strings.Join(out, ", ")
}

// checkText says why translated text s cannot stand for English text en
// ("" when it can): a different set of placeholders, or a broken template.
func checkText(s string, en []string) string {
	if got := placeholders(s); !slices.Equal(got, en) {
		return fmt.Sprintf("placeholders %s, but the English has %s", braces(got), braces(en))
	}
	if _, err := template.New("").Parse(s); err != nil {
		return fmt.Sprintf("broken template: %v", err)
	}
	return ""
}

// PluralForms lists the CLDR plural forms lang needs for whole counts, in
// CLDR order, as go-i18n (which renders them) decides.
func PluralForms(lang string) ([]string, error) {
	tag, err := language.Parse(lang)
	if err != nil {
		return nil, err
	}
	b := i18n.NewBundle(tag)
	if err := b.AddMessages(tag, &i18n.Message{ID: "f", Zero: "zero", One: "one", Two: "two", Few: "few", Many: "many", Other: "other"}); err != nil {
		return nil, err
	}
	loc := i18n.NewLocalizer(b, lang)
	seen := map[string]bool{"other": true}
	counts := []int{1000, 10000, 100000, 1000000, 2000000, 10000000}
	for n := 0; n <= 300; n++ {
		counts = append(counts, n)
	}
	for _, n := range counts {
		f, err := loc.Localize(&i18n.LocalizeConfig{MessageID: "f", PluralCount: n})
		if err != nil {
			return nil, err
		}
		seen[f] = true
	}
	var out []string
	for _, f := range pluralOrder {
		if seen[f] {
			out = append(out, f)
		}
	}
	return out, nil
}
