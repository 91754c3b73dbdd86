package translate

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/locales"
)

// copyLocales copies the shipped locale files into a temporary directory.
func copyLocales(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	names, err := filepath.Glob("../*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no locale files: %v", err)
	}
	for _, n := range names {
		buf, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func open(t *testing.T, dir string) *Project {
	t.Helper()
	p, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func status(t *testing.T, p *Project, lang string) LangStatus {
	t.Helper()
	for _, s := range p.Status() {
		if s.Lang == lang {
			return s
		}
	}
	t.Fatalf("no status for %s", lang)
	return LangStatus{}
}

func export(t *testing.T, p *Project, lang string) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.Export(&b, lang); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// edit replaces the msgstr of the entry with msgctxt ctx, drops its fuzzy
// mark, and returns the new file and the line of that msgstr.
func edit(t *testing.T, po, ctx, msgstr string) (string, int) {
	t.Helper()
	lines := strings.Split(po, "\n")
	for i, l := range lines {
		if l != `msgctxt "`+ctx+`"` {
			continue
		}
		if !strings.HasPrefix(lines[i+2], "msgstr ") {
			t.Fatalf("%s: msgstr not on one line: %q", ctx, lines[i+2])
		}
		lines[i+2] = "msgstr " + poQuote(msgstr)
		if i > 0 && lines[i-1] == "#, fuzzy" {
			lines = slices.Delete(lines, i-1, i)
			i--
		}
		return strings.Join(lines, "\n"), i + 3
	}
	t.Fatalf("no entry %s", ctx)
	return "", 0
}

func TestTranslationStatusOfShippedTexts(t *testing.T) {
	p := open(t, copyLocales(t))
	langs := p.Languages()
	for _, want := range []string{"ar", "es", "fr", "ne", "pt", "ru", "tl"} {
		if !slices.Contains(langs, want) {
			t.Errorf("languages %v lack %s", langs, want)
		}
	}
	s := status(t, p, "es")
	if s.Messages < 100 || s.Reviewed != 0 || s.NeedsReview != 0 || s.Unreviewed != s.Translated || s.Translated+s.Missing != s.Messages {
		t.Errorf("es status %+v: want every translation not reviewed", s)
	}
}

func TestTranslationRoundTrip(t *testing.T) {
	dir := copyLocales(t)
	p := open(t, dir)
	before := status(t, p, "es")
	po := export(t, p, "es")
	for _, want := range []string{
		"\"Language: es\\n\"",
		"msgctxt \"opt.menu\"\nmsgid \"Menu\"\nmsgstr \"Menú principal\"",
		"#. placeholders: {{.value}}",
		"#, fuzzy\nmsgctxt \"opt.menu\"",
		"msgctxt \"coach.out_of_hours[many]\"",
		"#. plural form \"many\" (CLDR); es has one, many, other",
	} {
		if !strings.Contains(po, want) {
			t.Errorf("export lacks %q", want)
		}
	}

	po, _ = edit(t, po, "opt.menu", "Menú")
	po, badLine := edit(t, po, "mydata.since", "Primer mensaje: {{.valor}}")
	po, formLine := edit(t, po, "coach.out_of_hours[many]", "Vuelve en {{.Count}} horas.")
	badLine-- // the fuzzy mark above coach.out_of_hours went
	po = strings.Replace(po, `msgctxt "coach.out_of_hours[many]"`, `msgctxt "coach.out_of_hours[few]"`, 1)
	file := filepath.Join(t.TempDir(), "es.po")
	res, err := p.Import(strings.NewReader(po), file)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Changed, []string{"opt.menu"}) || !slices.Equal(res.Reviewed, []string{"opt.menu"}) {
		t.Errorf("changed %v, reviewed %v: want opt.menu alone", res.Changed, res.Reviewed)
	}
	if len(res.Refused) != 2 {
		t.Fatalf("refused %v: want mydata.since and the form few", res.Refused)
	}
	if r := res.Refused[1]; r.ID != "mydata.since" || r.Line != badLine || !strings.HasPrefix(r.String(), file+":"+itoa(badLine)+": ") || !strings.Contains(r.Reason, "{{.valor}}") {
		t.Errorf("refusal %q: want %s:%d naming {{.valor}}", r, file, badLine)
	}
	if r := res.Refused[0]; r.ID != "coach.out_of_hours" || r.Line != formLine || !strings.Contains(r.Reason, `no plural form "few"`) {
		t.Errorf("refusal %q: want line %d, no plural form few", r, formLine)
	}

	core, err := os.ReadFile(filepath.Join(dir, "core.es.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(core), "\nopt.menu: \"Menú\"\n") || !strings.HasPrefix(string(core), "# Spanish (español).") {
		t.Errorf("core.es.yaml lacks the new text or lost its comments")
	}
	cat, err := locales.Load(os.DirFS(dir), nil, "en")
	if err != nil {
		t.Fatal(err)
	}
	if got := cat.Raw("es", "opt.menu"); got != "Menú" {
		t.Errorf("opt.menu loads as %q", got)
	}
	if got := cat.Raw("es", "mydata.since"); strings.Contains(got, "valor") {
		t.Errorf("refused text written: %q", got)
	}

	p = open(t, dir)
	if st := p.State("es", "opt.menu"); st != Reviewed {
		t.Errorf("opt.menu is %v, want reviewed", st)
	}
	after := status(t, p, "es")
	if after.Reviewed != 1 || after.Unreviewed != before.Unreviewed-1 || after.Translated != before.Translated {
		t.Errorf("status %+v after import, was %+v", after, before)
	}

	// The English changes: the reviewed translation needs review again.
	en := filepath.Join(dir, "core.en.yaml")
	buf, err := os.ReadFile(en)
	if err != nil {
		t.Fatal(err)
	}
	buf, err = setYAML(buf, "opt.menu", text{plain: "Main menu"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(en, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	p = open(t, dir)
	if st := p.State("es", "opt.menu"); st != NeedsReview {
		t.Errorf("opt.menu is %v after the English changed, want needs review", st)
	}
	changed := status(t, p, "es")
	if changed.NeedsReview != 1 || changed.Reviewed != 0 || !slices.Equal(changed.NeedsReviewIDs, []string{"opt.menu"}) {
		t.Errorf("status %+v after the English changed", changed)
	}
	if !strings.Contains(export(t, p, "es"), "#. status: needs review\n#, fuzzy\nmsgctxt \"opt.menu\"\nmsgid \"Main menu\"") {
		t.Errorf("export does not mark opt.menu fuzzy against the new English")
	}
	// A file exported before the change is refused for that message.
	res, err = p.Import(strings.NewReader(po), file)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(res.Refused, func(r Refusal) bool { return r.ID == "opt.menu" }); i < 0 || !strings.Contains(res.Refused[i].Reason, "export again") || len(res.Changed) != 0 {
		t.Errorf("stale import: refused %v", res.Refused)
	}
}

// TestTranslationReimportEveryLanguage exports every language and imports
// it back checked: nothing changes, nothing is refused (every shipped
// translation keeps its placeholders and plural forms), all are reviewed.
func TestTranslationReimportEveryLanguage(t *testing.T) {
	dir := copyLocales(t)
	p := open(t, dir)
	fuzzy := regexp.MustCompile(`(?m)^#, fuzzy\n`)
	for _, lang := range p.Languages() {
		po := fuzzy.ReplaceAllString(export(t, p, lang), "")
		res, err := p.Import(strings.NewReader(po), lang+".po")
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		for _, r := range res.Refused {
			t.Errorf("%s", r)
		}
		if len(res.Changed) != 0 {
			t.Errorf("%s: unchanged export changed %v", lang, res.Changed)
		}
	}
	p = open(t, dir)
	for _, s := range p.Status() {
		if s.Reviewed != s.Translated {
			t.Errorf("%s: %+v, want every translation reviewed", s.Lang, s)
		}
	}
}

func TestTranslationYAMLEdit(t *testing.T) {
	in := "# head\na: \"x\" # note\n\n# about b\nb:\n  one: \"1\"\n  other: \"n\"\n\n# about c\nc: \"z\"\n"
	out, err := setYAML([]byte(in), "b", text{forms: map[string]string{"one": "uno", "other": "varios \"n\"\n"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err = setYAML(out, "a", text{plain: "y\\z"})
	if err != nil {
		t.Fatal(err)
	}
	out, err = setYAML(out, "d", text{plain: "new"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# head\na: \"y\\\\z\" # note\n\n# about b\nb:\n  one: \"uno\"\n  other: \"varios \\\"n\\\"\\n\"\n\n# about c\nc: \"z\"\nd: \"new\"\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestTranslationPOParse reads what editors write: a byte order mark,
// CRLF line ends, a text wrapped over several strings, flags beside fuzzy.
func TestTranslationPOParse(t *testing.T) {
	po := "\ufeff# x\r\nmsgid \"\"\r\nmsgstr \"\"\r\n\"Language: es\\n\"\r\n\r\n" +
		"#, fuzzy, c-format\r\nmsgctxt \"a\"\r\nmsgid \"A\"\r\nmsgstr \"\"\r\n\"uno \"\r\n\"dos\\n\"\r\n" +
		"msgctxt \"b\"\nmsgid \"B\"\nmsgstr \"tres\"\n"
	header, entries, err := parsePO(strings.NewReader(po), "x.po")
	if err != nil {
		t.Fatal(err)
	}
	want := []poEntry{{ctx: "a", id: "A", str: "uno dos\n", fuzzy: true, line: 9}, {ctx: "b", id: "B", str: "tres", line: 14}}
	if header["Language"] != "es" || !slices.Equal(entries, want) {
		t.Errorf("header %v, entries %+v", header, entries)
	}
}
