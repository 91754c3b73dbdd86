package flows

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func loadPack(t *testing.T, src string) (*Pack, error) {
	t.Helper()
	packs, err := LoadPacks(fstest.MapFS{"x.yaml": {Data: []byte(src)}}, nil)
	if err != nil {
		return nil, err
	}
	return packs["x"], nil
}

const packByLanguage = `
entries:
  hotline:
    value: "ask your coach"
    source: "s"
    checked: 2026-11-01
  legal_aid:
    value: {en: "free advice", es: "asesoría gratuita", ar: "مشورة مجانية"}
    source: "s"
    checked: 2026-11-01
  emergency:
    value: "112"
    source: "s"
    checked: 2026-11-01
`

// TestPackValueByLanguage reads a plain value as English for every language
// and a map as a text per language, falling back to English.
func TestPackValueByLanguage(t *testing.T) {
	p, err := loadPack(t, packByLanguage)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, key, want string }{
		{"en", "hotline", "ask your coach"},
		{"es", "hotline", "ask your coach"},
		{"es", "legal_aid", "asesoría gratuita"},
		{"es-MX", "legal_aid", "asesoría gratuita"},
		{"fr", "legal_aid", "free advice"},
		{"ar", "legal_aid", "\u2068مشورة مجانية\u2069"},
		{"ar", "hotline", "\u2068ask your coach\u2069"},
		{"ar", "emergency", "\u2068112\u2069"},
		{"he", "emergency", "\u2068112\u2069"},
	} {
		if got := p.DataFor(tc.lang)[tc.key]; got != tc.want {
			t.Errorf("DataFor(%s)[%s] = %q, want %q", tc.lang, tc.key, got, tc.want)
		}
	}
	if got := p.Data()["legal_aid"]; got != "free advice" {
		t.Errorf("Data()[legal_aid] = %q, want the English text", got)
	}
	if got := p.Entries["legal_aid"].Value.In("ar"); got != "مشورة مجانية" {
		t.Errorf("In(ar) = %q, want the text without isolates", got)
	}
}

// TestPackValueStrict refuses a value that is neither a text nor a map of
// texts, and still refuses misspelt keys around it.
func TestPackValueStrict(t *testing.T) {
	for name, src := range map[string]string{
		"list":         "entries:\n  hotline:\n    value: [a, b]\n",
		"nested map":   "entries:\n  hotline:\n    value: {en: {x: y}}\n",
		"unknown key":  "entries:\n  hotline:\n    value: {en: a}\n    sauce: s\n",
		"unknown key2": "entries:\n  hotline:\n    valeu: a\n",
	} {
		if _, err := loadPack(t, src); err == nil {
			t.Errorf("%s: loaded without an error", name)
		}
	}
}

// TestCheckPackLanguages warns, naming the languages, about an entry
// without a text in some of the catalog's languages, but not about a
// number; a map without English is an error.
func TestCheckPackLanguages(t *testing.T) {
	p, err := loadPack(t, packByLanguage)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range CheckPackLanguages(p, []string{"en", "ar", "es", "fr"}) {
		if !pr.Warning {
			t.Errorf("%s: not a warning", pr)
		}
		got = append(got, pr.String())
	}
	want := []string{
		"x.yaml:hotline: warning: no ar, es, fr text (English is used)",
		"x.yaml:legal_aid: warning: no fr text (English is used)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p.Entries["legal_aid"] = Entry{Value: Text{"es": "asesoría", "xx": "?"}, Source: "s", Checked: "2026-11-01"}
	var errs []string
	for _, pr := range CheckPack(p, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		if pr.Reason != "entry is missing" {
			errs = append(errs, pr.String())
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "legal_aid: value needs an en text") {
		t.Errorf("CheckPack = %q, want one error about the English text", errs)
	}
	p.Entries["legal_aid"] = Entry{Value: Text{"en": "advice", "es": "asesoría", "xx": "?"}, Source: "s", Checked: "2026-11-01"}
	found := false
	for _, pr := range CheckPackLanguages(p, []string{"en", "es"}) {
		found = found || pr.Node == "legal_aid" && strings.Contains(pr.Reason, "text in xx")
	}
	if !found {
		t.Error("no warning about a text in a language the catalog does not have")
	}
}
