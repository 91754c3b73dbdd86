package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/lifeline-org/lifeline/locales"
	"github.com/lifeline-org/lifeline/locales/translate"
)

const translationsUsage = `usage:
  lifeline translations status [--dir DIR] [LANG]   messages per language: reviewed, needs review, not reviewed, missing (with LANG: which)
  lifeline translations export LANG [--dir DIR] [-o FILE]   a gettext PO file for a translator (default: stdout)
  lifeline translations import FILE [--dir DIR]     apply a translated PO file; refused entries are listed as FILE:LINE: reason
DIR is the locale directory (default locales; CONTENT_DIR/locales for an override; locales/console for the console).`

// translationsCmd is `lifeline translations status|export|import`: the
// translators' workflow over a locale directory (package locales/translate).
func translationsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, translationsUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	if sub != "status" && sub != "export" && sub != "import" {
		fmt.Fprintln(stderr, translationsUsage)
		return 2
	}
	fset := flag.NewFlagSet("translations "+sub, flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprintln(stderr, translationsUsage) }
	dir := fset.String("dir", "locales", "locale directory")
	out := fset.String("o", "", "export: write to this file instead of stdout")
	pos, err := parseInterspersed(fset, args)
	if err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "lifeline translations %s: %v\n", sub, err)
		return 1
	}
	p, err := translate.Open(*dir, shippedLocales(*dir))
	if err != nil {
		return fail(err)
	}
	switch {
	case sub == "status" && len(pos) <= 1:
		return translationStatus(p, pos, stdout)
	case sub == "export" && len(pos) == 1:
		var b bytes.Buffer
		if err := p.Export(&b, pos[0]); err != nil {
			return fail(err)
		}
		if *out == "" {
			_, err = stdout.Write(b.Bytes())
		} else {
			err = os.WriteFile(*out, b.Bytes(), 0o644)
		}
		if err != nil {
			return fail(err)
		}
		return 0
	case sub == "import" && len(pos) == 1:
		f, err := os.Open(pos[0])
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		res, err := p.Import(f, pos[0])
		if err != nil {
			return fail(err)
		}
		for _, r := range res.Refused {
			fmt.Fprintln(stderr, r)
		}
		fmt.Fprintf(stdout, "%s: %d texts changed, %d marked reviewed, %d refused", res.Lang, len(res.Changed), len(res.Reviewed), len(res.Refused))
		if len(res.Files) > 0 {
			fmt.Fprintf(stdout, "; wrote %s", strings.Join(res.Files, ", "))
		}
		fmt.Fprintln(stdout)
		if len(res.Refused) > 0 {
			return 1
		}
		return 0
	}
	fmt.Fprintln(stderr, translationsUsage)
	return 2
}

func translationStatus(p *translate.Project, pos []string, stdout io.Writer) int {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "lang\tmessages\ttranslated\treviewed\tneeds review\tnot reviewed\tmissing")
	var one *translate.LangStatus
	for _, s := range p.Status() {
		if len(pos) == 1 && s.Lang != pos[0] {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Lang, s.Messages, s.Translated, s.Reviewed, s.NeedsReview, s.Unreviewed, s.Missing)
		one = &s
	}
	tw.Flush()
	if len(pos) == 1 {
		if one == nil {
			fmt.Fprintf(stdout, "no language %q (have %s)\n", pos[0], strings.Join(p.Languages(), ", "))
			return 2
		}
		for _, id := range one.NeedsReviewIDs {
			fmt.Fprintf(stdout, "needs review\t%s\n", id)
		}
		for _, id := range one.MissingIDs {
			fmt.Fprintf(stdout, "missing\t%s\n", id)
		}
	}
	return 0
}

// shippedLocales is what a locale directory overrides: the shipped console
// texts for a console directory, else the shipped texts.
func shippedLocales(dir string) fs.FS {
	if filepath.Base(filepath.Clean(dir)) == "console" {
		sub, err := fs.Sub(locales.ConsoleFiles, "console")
		if err == nil {
			return sub
		}
	}
	return locales.Files
}

// parseInterspersed parses flags placed before, between or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		args = fset.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
