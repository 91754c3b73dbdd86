package content_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
)

// TestLessonsOpenNeutrally: the first message a lesson sends — from its
// start, and from every node its start may branch to (a person resuming
// where they left off) — is what a phone shows in a notification preview
// or a chat list. Rendered in every language with every resource pack, it
// holds none of that language's sensitive words
// (testdata/sensitive/<tag>.txt).
func TestLessonsOpenNeutrally(t *testing.T) {
	c := load(t)
	lessons := lessonIDs(c)
	for _, lang := range c.Catalog.Languages() {
		words := sensitiveWords(t, lang)
		for _, lesson := range lessons {
			for _, id := range openings(c.Def, lesson) {
				if c.Catalog.Raw(lang, id) == "" {
					continue // a missing id is Content.Check's to report
				}
				for _, pack := range sortedPacks(c) {
					text, err := c.Catalog.Text(lang, id, c.Packs[pack].Data())
					if err != nil {
						t.Errorf("%s %s %s: %v", lang, lesson, id, err)
						continue
					}
					if w := sensitiveIn(text, words); w != "" {
						t.Errorf("%s: %s opens with %s, which has %q (pack %s):\n%s", lang, lesson, id, w, pack, text)
						break
					}
				}
			}
		}
	}
}

// TestOpenings shows openings finds every entry point of a resumable
// lesson: the content note, and each part it resumes at.
func TestOpenings(t *testing.T) {
	c := load(t)
	got := openings(c.Def, "lesson_debt")
	for _, want := range []string{"lesson.content_note", "lesson.debt.3", "lesson.debt.5", "lesson.debt.quiz"} {
		if !slices.Contains(got, want) {
			t.Errorf("openings of lesson_debt = %v, lacks %s", got, want)
		}
	}
}

// openings returns the ids of the first messages flow can send, following
// branches (every case and the default), nodes that only set fields, and
// calls, up to the first node that sends something.
func openings(def *flows.Definition, flow string) []string {
	var ids []string
	seen := map[string]bool{}
	var visit func(flow, node string)
	visit = func(flow, node string) {
		f := def.Flows[flow]
		if f == nil || seen[flow+"/"+node] {
			return
		}
		seen[flow+"/"+node] = true
		n := f.Nodes[node]
		if n == nil {
			return
		}
		switch {
		case len(n.Say) > 0:
			ids = append(ids, n.Say[0])
		case n.Ask != "":
			ids = append(ids, n.Ask)
		case n.Input != nil:
			ids = append(ids, n.Input.Prompt)
		case n.Branch != nil:
			targets := []string{n.Branch.Default}
			for _, v := range n.Branch.Cases {
				targets = append(targets, v)
			}
			sort.Strings(targets)
			for _, to := range targets {
				visit(flow, to)
			}
		case n.Call != "":
			if called := def.Flows[n.Call]; called != nil {
				visit(n.Call, called.Start)
			}
		case !n.End:
			visit(flow, n.Next)
		}
	}
	visit(flow, def.Flows[flow].Start)
	slices.Sort(ids)
	return slices.Compact(ids)
}

func sortedPacks(c *content.Content) []string {
	var names []string
	for n := range c.Packs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sensitiveWords reads testdata/sensitive/<lang>.txt: one entry a line,
// each entry one or more words; a word may start or end with * (any
// letters before or after it).
func sensitiveWords(t *testing.T, lang string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sensitive", lang+".txt"))
	if err != nil {
		t.Fatalf("no sensitive word list for %s: %v", lang, err)
	}
	defer f.Close()
	var entries [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		entries = append(entries, strings.Fields(strings.ToLower(line)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(entries) < 8 {
		t.Fatalf("%s: only %d sensitive words", lang, len(entries))
	}
	return entries
}

// sensitiveIn returns the first entry of words found in text, or "".
func sensitiveIn(text string, words [][]string) string {
	tokens := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r)
	})
	for _, entry := range words {
		for i := range tokens {
			if i+len(entry) > len(tokens) {
				break
			}
			all := true
			for j, w := range entry {
				all = all && wordMatches(w, tokens[i+j])
			}
			if all {
				return strings.Join(entry, " ")
			}
		}
	}
	return ""
}

func wordMatches(pattern, token string) bool {
	pre, suf := strings.HasPrefix(pattern, "*"), strings.HasSuffix(pattern, "*")
	core := strings.Trim(pattern, "*")
	switch {
	case pre && suf:
		return strings.Contains(token, core)
	case pre:
		return strings.HasSuffix(token, core)
	case suf:
		return strings.HasPrefix(token, core)
	}
	return token == core
}

// TestSensitiveIn pins the word matching the lists rely on.
func TestSensitiveIn(t *testing.T) {
	words := [][]string{{"exploit*"}, {"forced", "labour"}, {"*شرطة*"}, {"rab"}}
	for text, want := range map[string]string{
		"Warning signs\nThey exploited her.": "exploit*",
		"This is called Forced  Labour.":     "forced labour",
		"اتصل بالشرطة":                       "*شرطة*",
		"forced to work":                     "",
		"rabbit":                             "",
		"Raba is not raB":                    "rab",
	} {
		if got := sensitiveIn(text, words); got != want {
			t.Errorf("sensitiveIn(%q) = %q, want %q", text, got, want)
		}
	}
}
