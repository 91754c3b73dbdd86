package translate

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing/fstest"

	"github.com/lifeline-org/lifeline/locales"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// Refusal is a PO entry Import would not apply, and why.
type Refusal struct {
	File   string
	Line   int
	ID     string
	Reason string
}

func (r Refusal) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", r.File, r.Line, r.ID, r.Reason)
}

// ImportResult says what Import did.
type ImportResult struct {
	Lang     string
	Changed  []string // ids whose text was written
	Reviewed []string // ids marked reviewed
	Refused  []Refusal
	Files    []string // files written, relative to the project directory
}

// group is the PO entries of one message: one, or one per plural form.
type group struct {
	id    string
	plain *poEntry
	forms map[string]*poEntry
}

// Import reads a PO file written by Export (name is used in messages) and
// applies it to the project directory. An entry whose msgstr changes the
// placeholders, breaks the template or a plural form, or whose msgid is no
// longer the English text, is refused; the others are applied. An entry
// without the fuzzy mark is the translator's "checked": it is written and
// marked reviewed from the current English. A fuzzy entry is written only
// if its text changed, and stays not reviewed. An empty msgstr is skipped.
func (p *Project) Import(r io.Reader, name string) (*ImportResult, error) {
	header, entries, err := parsePO(r, name)
	if err != nil {
		return nil, err
	}
	lang := header["Language"]
	if _, err := language.Parse(lang); err != nil || lang == Source {
		return nil, fmt.Errorf("%s: header Language %q is not a language to import", name, lang)
	}
	forms, err := PluralForms(lang)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Lang: lang}
	refuse := func(line int, id, format string, a ...any) {
		res.Refused = append(res.Refused, Refusal{File: name, Line: line, ID: id, Reason: fmt.Sprintf(format, a...)})
	}
	var order []*group
	groups := map[string]*group{}
	for i := range entries {
		e := &entries[i]
		id, form := e.ctx, ""
		if j := strings.LastIndexByte(e.ctx, '['); j > 0 && strings.HasSuffix(e.ctx, "]") {
			id, form = e.ctx[:j], e.ctx[j+1:len(e.ctx)-1]
		}
		src := p.msgs[Source][id]
		switch {
		case e.plural:
			refuse(e.line, id, "gettext plural entries are not read: give each CLDR form as its own entry, msgctxt %q", id+"[one]")
			continue
		case src == nil:
			refuse(e.line, id, "no message %q in English", id)
			continue
		case form != "" && !src.text.plural():
			refuse(e.line, id, "not a plural message: use msgctxt %q", id)
			continue
		case form == "" && src.text.plural():
			refuse(e.line, id, "a plural message: give each form as msgctxt %q and so on (%s)", id+"["+forms[0]+"]", strings.Join(forms, ", "))
			continue
		case form != "" && !slices.Contains(forms, form):
			refuse(e.line, id, "%s has no plural form %q (it has %s)", lang, form, strings.Join(forms, ", "))
			continue
		}
		want := src.text.plain
		if form != "" {
			want = src.text.form(form)
		}
		if e.id != want {
			refuse(e.line, id, "the English text changed since this file was exported: export again")
			continue
		}
		g := groups[id]
		if g == nil {
			g = &group{id: id, forms: map[string]*poEntry{}}
			groups[id] = g
			order = append(order, g)
		}
		if form == "" {
			g.plain = e
		} else {
			g.forms[form] = e
		}
	}

	edits := map[string]map[string]text{} // file -> id -> text
	reviews := map[string]Review{}
	for _, g := range order {
		src := p.msgs[Source][g.id]
		vars := placeholders(src.text.all()...)
		var cur *text
		if tr := p.msgs[lang][g.id]; tr != nil && !emptyText(tr.text) {
			cur = &tr.text
		}
		var next text
		fuzzy, given, ok := false, false, true
		if g.plain != nil {
			e := g.plain
			if e.str == "" {
				continue
			}
			if why := checkText(e.str, vars); why != "" {
				refuse(e.line, g.id, "%s", why)
				continue
			}
			next, fuzzy, given = text{plain: e.str}, e.fuzzy, true
		} else {
			next = text{forms: map[string]string{}}
			if cur != nil && cur.plural() {
				for f, s := range cur.forms {
					next.forms[f] = s
				}
			}
			first := 0
			for _, f := range forms {
				e := g.forms[f]
				if e == nil {
					continue
				}
				if first == 0 {
					first = e.line
				}
				if e.str == "" {
					continue
				}
				if why := checkText(e.str, vars); why != "" {
					refuse(e.line, g.id, "plural form %q: %s", f, why)
					ok = false
					continue
				}
				next.forms[f] = e.str
				fuzzy, given = fuzzy || e.fuzzy, true
			}
			if !given || !ok {
				continue
			}
			for _, f := range forms {
				if strings.TrimSpace(next.forms[f]) == "" {
					line := first
					if e := g.forms[f]; e != nil {
						line = e.line
					}
					refuse(line, g.id, "plural form %q is empty: %s needs %s", f, lang, strings.Join(forms, ", "))
					ok = false
				}
			}
			if !ok {
				continue
			}
		}
		changed := cur == nil || !cur.equal(next)
		if fuzzy && !changed {
			continue
		}
		file := p.target(lang, g.id)
		if changed {
			if edits[file] == nil {
				edits[file] = map[string]text{}
			}
			edits[file][g.id] = next
			res.Changed = append(res.Changed, g.id)
		}
		reviews[g.id] = Review{Source: src.text.hash(), Reviewed: !fuzzy}
		if !fuzzy {
			res.Reviewed = append(res.Reviewed, g.id)
		}
	}
	sort.SliceStable(res.Refused, func(i, j int) bool { return res.Refused[i].Line < res.Refused[j].Line })
	if err := p.write(lang, edits, reviews, res); err != nil {
		return nil, err
	}
	return res, nil
}

// target is the file, in the project directory, that holds (or will hold)
// message id in lang: the file that has it now, or the English file's part.
func (p *Project) target(lang, id string) string {
	if tr := p.msgs[lang][id]; tr != nil {
		return tr.file
	}
	if part := p.msgs[Source][id].part; part != "" {
		return part + "." + lang + ".yaml"
	}
	return lang + ".yaml"
}

// write edits the locale files and the review file, after checking that
// every edited file says what was meant and the whole still loads.
func (p *Project) write(lang string, edits map[string]map[string]text, reviews map[string]Review, res *ImportResult) error {
	dirFS := os.DirFS(p.dir)
	names, err := fs.Glob(dirFS, "*.yaml")
	if err != nil {
		return err
	}
	after := fstest.MapFS{}
	for _, n := range names {
		buf, err := fs.ReadFile(dirFS, n)
		if err != nil {
			return err
		}
		after[n] = &fstest.MapFile{Data: buf}
	}
	files := make([]string, 0, len(edits))
	for f := range edits {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		var buf []byte
		if mf := after[f]; mf != nil {
			buf = mf.Data
		} else {
			buf = []byte(fmt.Sprintf("# %s texts written by lifeline translations import.\n", lang))
		}
		ids := make([]string, 0, len(edits[f]))
		for id := range edits[f] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if buf, err = setYAML(buf, id, edits[f][id]); err != nil {
				return fmt.Errorf("%s: %s: %w", f, id, err)
			}
		}
		var m map[string]any
		if err := yaml.Unmarshal(buf, &m); err != nil {
			return fmt.Errorf("%s: edited file does not parse: %w", f, err)
		}
		for _, id := range ids {
			if got, ok := parseText(m[id]); !ok || !got.equal(edits[f][id]) {
				return fmt.Errorf("%s: %s: edited file does not read back the new text", f, id)
			}
		}
		after[f] = &fstest.MapFile{Data: buf}
	}
	if len(files) > 0 {
		if _, err := locales.Load(p.base, after, Source); err != nil {
			return fmt.Errorf("edited texts do not load: %w", err)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(p.dir, f), after[f].Data, 0o644); err != nil {
			return err
		}
		res.Files = append(res.Files, f)
	}
	if len(reviews) == 0 {
		return nil
	}
	all := p.reviews[lang]
	if all == nil {
		all = map[string]Review{}
		p.reviews[lang] = all
	}
	for id, r := range reviews {
		all[id] = r
	}
	rf := filepath.Join("review", lang+".yaml")
	if err := os.MkdirAll(filepath.Join(p.dir, "review"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.dir, rf), reviewFile(lang, all), 0o644); err != nil {
		return err
	}
	res.Files = append(res.Files, filepath.ToSlash(rf))
	return nil
}

// reviewFile renders a review file: one line per message id, sorted.
func reviewFile(lang string, all map[string]Review) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Review status of the %s texts, written by lifeline translations import.\n", lang)
	b.WriteString("# id: {source: short sha256 of the English text translated or reviewed from,\n")
	b.WriteString("#      reviewed: whether a reviewer approved it}. No line: not reviewed.\n")
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "%s: {source: %q, reviewed: %t}\n", yamlKey(id), all[id].Source, all[id].Reviewed)
	}
	return b.Bytes()
}
