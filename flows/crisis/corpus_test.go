package crisis_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/flows/content"
)

// loadShipped loads the shipped content, whose Crisis detector is the one
// the runtime uses.
func loadShipped(t testing.TB) *content.Content {
	t.Helper()
	c, err := content.Load("", "en", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readLines reads a corpus file: one message a line, blank lines and lines
// starting with # skipped.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestCorpora runs every shipped language's corpus
// (testdata/corpus/<lang>/alarm.txt: messages that must raise an alarm;
// near.txt: near-misses that must not) through Match for a person of that
// language, and prints precision and recall. Targets: recall 1.0,
// precision at least 0.95, at least 20 sentences each.
func TestCorpora(t *testing.T) {
	c := loadShipped(t)
	for _, lang := range c.Catalog.Languages() {
		t.Run(lang, func(t *testing.T) {
			dir := filepath.Join("testdata", "corpus", lang)
			alarms := readLines(t, filepath.Join(dir, "alarm.txt"))
			near := readLines(t, filepath.Join(dir, "near.txt"))
			if len(alarms) < 20 || len(near) < 20 {
				t.Errorf("corpus too small: %d alarms, %d near-misses (want 20 each)", len(alarms), len(near))
			}
			tp, fp := 0, 0
			for _, s := range alarms {
				if _, ok := c.Crisis.Match(lang, s); ok {
					tp++
				} else {
					t.Errorf("missed: %q", s)
				}
			}
			for _, s := range near {
				if h, ok := c.Crisis.Match(lang, s); ok {
					fp++
					t.Errorf("false alarm: %q (phrase %q of %s)", s, h.Phrase, h.Lang)
				}
			}
			recall := float64(tp) / float64(len(alarms))
			precision := 1.0
			if tp+fp > 0 {
				precision = float64(tp) / float64(tp+fp)
			}
			t.Logf("%s: recall %.3f (%d/%d), precision %.3f (%d false alarms in %d near-misses)",
				lang, recall, tp, len(alarms), precision, fp, len(near))
			if recall < 1 || precision < 0.95 {
				t.Errorf("%s: recall %.3f, precision %.3f; want 1.0 and >= 0.95", lang, recall, precision)
			}
		})
	}
}

// TestBotTextsAreNoAlarm sends every text the bot can send, in every
// language, back to it as a person of that language (and of none): an echo
// is never an alarm, even a lesson about passports taken or the crisis
// reply itself.
func TestBotTextsAreNoAlarm(t *testing.T) {
	c := loadShipped(t)
	for _, text := range c.BotTexts() {
		for _, lang := range append(c.Catalog.Languages(), "") {
			if h, ok := c.Crisis.Match(lang, text); ok && len(strings.Fields(text)) >= 5 {
				t.Errorf("bot text raised an alarm for %q (phrase %q of %s): %q", lang, h.Phrase, h.Lang, text)
			}
		}
	}
}
