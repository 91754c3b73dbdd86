package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/lifeline-org/lifeline/flows/content"
)

// crisisCmd is `lifeline crisis [-lang L] [-why]`: each line of stdin is a
// message, and each gets one line out, "urgent<TAB>phrase" or "-", from
// exactly the matcher the runtime uses (content.Crisis.Match), so content
// editors can tune the lists in locales/crisis (or CONTENT_DIR's) with
// real sentences. Without -lang the line is read as from a person who has
// not chosen a language yet: every language's phrases count.
func crisisCmd(args []string, cfg *Config, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("crisis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lang := fs.String("lang", "", "the person's language (default: none chosen, every language counts)")
	dir := fs.String("content", cfg.ContentDir, "content directory overriding the shipped content")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := content.Load(*dir, cfg.DefaultLanguage, cfg.ResourcePack)
	if err != nil {
		fmt.Fprintln(stderr, "lifeline crisis:", err)
		return 1
	}
	if *lang != "" && !c.Catalog.Has(*lang) {
		fmt.Fprintf(stderr, "lifeline crisis: no language %q (have %v)\n", *lang, c.Catalog.Languages())
		return 2
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	for sc.Scan() {
		if hit, ok := c.Crisis.Match(*lang, sc.Text()); ok {
			fmt.Fprintf(w, "urgent\t%s\n", strings.TrimSpace(hit.Phrase))
		} else {
			fmt.Fprintln(w, "-")
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "lifeline crisis:", err)
		return 1
	}
	return 0
}
