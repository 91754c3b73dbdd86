package translate

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Export writes lang's messages as a gettext PO file: msgctxt is the
// message id (id[form] for a plural form), msgid the English text, msgstr
// the current translation ("" when missing). Extracted comments (#.) name
// the file, the placeholders and the plural forms; every message not
// reviewed from the current English is marked fuzzy, so the translator's
// tool shows it as work to do and clearing the mark means "reviewed".
func (p *Project) Export(w io.Writer, lang string) error {
	if lang == Source || p.msgs[lang] == nil {
		return fmt.Errorf("no %q texts to export (have %s)", lang, strings.Join(p.langs, ", "))
	}
	forms, err := PluralForms(lang)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Lifeline texts in %s, from %s. Translate msgstr; keep every {{.placeholder}}.\n", lang, p.dir)
	fmt.Fprintf(bw, "# Remove the fuzzy mark of a text once you have checked it against the English.\n")
	fmt.Fprintf(bw, "# Import with: lifeline translations import FILE\n")
	fmt.Fprintf(bw, "msgid \"\"\nmsgstr \"\"\n")
	for _, h := range []string{"Language: " + lang, "MIME-Version: 1.0", "Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: 8bit", "X-Generator: lifeline translations"} {
		fmt.Fprintf(bw, "%s\n", poQuote(h+"\n"))
	}
	for _, id := range p.IDs() {
		src := p.msgs[Source][id]
		tr := p.msgs[lang][id]
		state := p.State(lang, id)
		vars := braces(placeholders(src.text.all()...))
		file := src.file
		if tr != nil {
			file = tr.file
		}
		if !src.text.plural() {
			cur := ""
			if tr != nil && !tr.text.plural() {
				cur = tr.text.plain
			}
			writeEntry(bw, []string{file, "placeholders: " + vars, "status: " + state.String()}, state, id, src.text.plain, cur)
			continue
		}
		for _, f := range forms {
			cur := ""
			if tr != nil && tr.text.plural() {
				cur = tr.text.forms[f]
			}
			comments := []string{file, "placeholders: " + vars,
				fmt.Sprintf("plural form %q (CLDR); %s has %s", f, lang, strings.Join(forms, ", ")),
				"status: " + state.String()}
			writeEntry(bw, comments, state, id+"["+f+"]", src.text.form(f), cur)
		}
	}
	return bw.Flush()
}

func writeEntry(w io.Writer, comments []string, state State, ctx, id, str string) {
	fmt.Fprintln(w)
	for _, c := range comments {
		fmt.Fprintf(w, "#. %s\n", c)
	}
	if state != Reviewed && str != "" {
		fmt.Fprintln(w, "#, fuzzy")
	}
	fmt.Fprintf(w, "msgctxt %s\nmsgid %s\nmsgstr %s\n", poQuote(ctx), poQuote(id), poQuote(str))
}

// poQuote quotes s as a PO string; a text of several lines is split after
// each line break, as gettext tools write it.
func poQuote(s string) string {
	esc := func(s string) string {
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
		return `"` + r.Replace(s) + `"`
	}
	if !strings.Contains(strings.TrimSuffix(s, "\n"), "\n") {
		return esc(s)
	}
	var b strings.Builder
	b.WriteString(`""`)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			i = len(s) - 1
		}
		b.WriteString("\n" + esc(s[:i+1]))
		s = s[i+1:]
	}
	return b.String()
}

// poEntry is one entry of a PO file.
type poEntry struct {
	ctx, id, str string
	fuzzy        bool
	line         int // the line of msgstr
	plural       bool
}

// parsePO reads a PO file: its header fields and its entries.
func parsePO(r io.Reader, name string) (map[string]string, []poEntry, error) {
	var entries []poEntry
	var cur poEntry
	var field *string // where continuation strings go
	started, sawStr := false, false
	flush := func() {
		if started {
			entries = append(entries, cur)
		}
		cur, field, started, sawStr = poEntry{}, nil, false, false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a byte order mark some editors write
		}
		errAt := func(reason string) error { return fmt.Errorf("%s:%d: %s", name, n, reason) }
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "#"):
			if sawStr {
				flush()
			}
			if strings.HasPrefix(line, "#,") && strings.Contains(line, "fuzzy") {
				cur.fuzzy = true
			}
		case strings.HasPrefix(line, `"`):
			if field == nil {
				return nil, nil, errAt("a string outside msgctxt, msgid or msgstr")
			}
			s, err := poUnquote(line)
			if err != nil {
				return nil, nil, errAt(err.Error())
			}
			*field += s
		default:
			kw, rest, _ := strings.Cut(line, " ")
			s, err := poUnquote(strings.TrimSpace(rest))
			if err != nil {
				return nil, nil, errAt(err.Error())
			}
			switch {
			case kw == "msgctxt":
				if sawStr {
					flush()
				}
				cur.ctx, field = s, &cur.ctx
			case kw == "msgid":
				if sawStr {
					flush()
				}
				cur.id, field = s, &cur.id
			case kw == "msgstr":
				cur.str, field, cur.line, sawStr = s, &cur.str, n, true
			case kw == "msgid_plural" || strings.HasPrefix(kw, "msgstr["):
				cur.plural, cur.line, sawStr = true, n, true
				var sink string
				field = &sink
			default:
				return nil, nil, errAt("unknown keyword " + kw)
			}
			started = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	flush()
	header := map[string]string{}
	if len(entries) > 0 && entries[0].ctx == "" && entries[0].id == "" {
		for _, l := range strings.Split(entries[0].str, "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				header[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		entries = entries[1:]
	}
	return header, entries, nil
}

func poUnquote(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", fmt.Errorf("not a quoted string: %s", s)
	}
	out, err := strconv.Unquote(s)
	if err != nil {
		return "", fmt.Errorf("bad string %s: %v", s, err)
	}
	return out, nil
}
