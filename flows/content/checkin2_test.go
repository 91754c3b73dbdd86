package content_test

import (
	"slices"
	"testing"

	"github.com/lifeline-org/lifeline/flows"
)

// TestCheckinFragile walks a check-in to its optional question on signs
// that life is getting hard again: someone who wants no contact but says
// "yes" to a sign is offered a coach once more, and "coach" leaves the
// check-in for the coach offer; "no" ends it with thanks.
func TestCheckinFragile(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		name, sign, offer string
		coach             bool
	}{
		{"yes_coach", "yes", "coach", true},
		{"yes_later", "yes", "later", false},
		{"no", "no", "", false},
	} {
		for _, lang := range []string{"en", "es", "ar"} {
			t.Run(tc.name+"."+lang, func(t *testing.T) {
				asked, offered := false, false
				got, effs := walk(t, c, lang, "checkin", func(node string, opts []string) string {
					switch node {
					case "mood":
						return "4"
					case "work":
						return "looking"
					case "contact":
						return "no"
					case "fragile":
						asked = true
						return tc.sign
					case "fragile_offer":
						if !offered {
							offered = true
							return tc.offer
						}
					}
					// After the coach offer: back to the main menu.
					if offered && slices.Contains(opts, "menu") {
						return "menu"
					}
					t.Fatalf("unexpected node %s %v", node, opts)
					return ""
				})
				if !asked {
					t.Error("the check-in did not ask about the signs")
				}
				if coach := slices.ContainsFunc(effs, func(e flows.Effect) bool { return e.Kind == flows.EffectEscalate }); coach != tc.coach {
					t.Errorf("escalated %v, want %v", coach, tc.coach)
				}
				golden(t, "walk.checkin_fragile_"+tc.name+"."+lang, got)
			})
		}
	}
}
