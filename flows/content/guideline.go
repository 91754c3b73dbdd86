package content

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/lifeline-org/lifeline/flows"
)

// guidelineSection is how a section of the ILO guidelines is written:
// "2a", "3f", "3f.4".
var guidelineSection = regexp.MustCompile(`^[1-9][a-z](\.[0-9]+)?$`)

// checkGuidelines wants every lesson (a flow whose id starts with
// "lesson_") to name the guideline section it draws on, so a reviewer can
// hold its words against the source. A missing or malformed section is a
// warning, not an error: it teaches nothing wrong, and a programme's older
// copy of a lesson under CONTENT_DIR should not stop Lifeline from
// starting. The shipped lessons are held to it by a test.
func checkGuidelines(def *flows.Definition) []flows.Problem {
	var ids []string
	for id := range def.Flows {
		if strings.HasPrefix(id, "lesson_") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var probs []flows.Problem
	for _, id := range ids {
		g := def.Flows[id].Guideline
		switch {
		case g == "":
			probs = append(probs, flows.Problem{File: def.Sources[id], Reason: `lesson names no guideline section (add guideline: "3f.4" or the like)`, Warning: true})
		case !guidelineSection.MatchString(g):
			probs = append(probs, flows.Problem{File: def.Sources[id], Reason: fmt.Sprintf("guideline %q is not a section of the ILO guidelines such as \"3f.4\"", g), Warning: true})
		}
	}
	return probs
}
