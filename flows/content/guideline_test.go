package content

import (
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/flows"
)

// TestCheckGuidelines: a lesson without a guideline section, or with one
// that is not written like "3f.4", is warned about; other flows need none.
func TestCheckGuidelines(t *testing.T) {
	def := &flows.Definition{
		Flows: map[string]*flows.Flow{
			"lesson_ok":      {ID: "lesson_ok", Guideline: "3f.4"},
			"lesson_missing": {ID: "lesson_missing"},
			"lesson_typo":    {ID: "lesson_typo", Guideline: "3f4"},
			"menu":           {ID: "menu"},
		},
		Sources: map[string]string{"lesson_ok": "lesson_ok.yaml", "lesson_missing": "lesson_missing.yaml", "lesson_typo": "lesson_typo.yaml", "menu": "menu.yaml"},
	}
	probs := checkGuidelines(def)
	var got []string
	for _, p := range probs {
		if !p.Warning {
			t.Errorf("%s: want a warning", p)
		}
		got = append(got, p.File)
	}
	if strings.Join(got, " ") != "lesson_missing.yaml lesson_typo.yaml" {
		t.Errorf("problems in %v, want lesson_missing.yaml and lesson_typo.yaml:\n%v", got, probs)
	}
}

// TestShippedLessonsNameGuideline: every shipped lesson names its
// guideline section, and Check reports it.
func TestShippedLessonsNameGuideline(t *testing.T) {
	c, err := Load("", "en", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkGuidelines(c.Def) {
		t.Error(p)
	}
	c.Def.Flows["lesson_documents"].Guideline = ""
	found := false
	for _, p := range c.Check(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		found = found || p.File == c.Def.Sources["lesson_documents"] && strings.Contains(p.Reason, "guideline")
	}
	if !found {
		t.Error("Check does not report a lesson without a guideline section")
	}
}
