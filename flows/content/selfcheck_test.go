package content_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
)

// respondent answers the self-check: yes to the signs in yes (no to the
// rest), when for "is this happening now?" (now, past or unsure), offer
// for "would you like a coach?" (yes or no); then looks at the topics
// offered, and leaves.
func respondent(when, offer string, yes ...string) func(string, []string) string {
	return func(node string, opts []string) string {
		switch {
		case strings.HasPrefix(node, "q_"):
			if slices.Contains(yes, strings.TrimPrefix(node, "q_")) {
				return "yes"
			}
			return "no"
		case strings.HasPrefix(node, "now_"):
			return when
		case strings.HasPrefix(node, "offer_"):
			return offer
		case node == "signs":
			return "topics" // to see the topics offered
		case node == "topics":
			return "back"
		}
		return learner(node, opts)
	}
}

// indicators are the ids an escalation's value may carry: the danger
// signs, never the person's words.
var indicators = []string{"movement", "threats", "violence"}

// TestSelfCheckAsksFirst walks the self-check's danger paths: happening
// now (the crisis reply and an urgent case), in the past or not sure (a
// coach is offered once; a normal case only on yes). Every case carries
// indicator ids only, each "yes" is counted, and the result repeats
// nothing the person said.
func TestSelfCheckAsksFirst(t *testing.T) {
	c := load(t)
	type esc struct{ reason, priority, value string }
	for _, tc := range []struct {
		name        string
		when, offer string
		yes         []string
		want        []esc
		langs       []string
	}{
		// Happening now: crisis reply, urgent case, and the questions go on.
		{"now", "now", "", []string{"debt", "violence"},
			[]esc{{"selfcheck_now", "urgent", "violence"}},
			[]string{"en", "es", "fr", "pt", "ru", "ar", "tl", "ne"}},
		// In the past, a coach accepted: a normal case; a later danger
		// sign adds its indicator without asking again.
		{"past_yes", "past", "yes", []string{"documents", "movement", "threats"},
			[]esc{{"selfcheck", "normal", "movement"}, {"selfcheck", "normal", "threats"}},
			[]string{"en", "es", "fr", "pt", "ru", "ar", "tl", "ne"}},
		// In the past, the coach declined: no case, and no second offer.
		{"past_no", "past", "no", []string{"wages", "threats", "violence"},
			nil,
			[]string{"en", "es", "fr"}},
		// Not sure, a coach accepted.
		{"unsure", "unsure", "yes", []string{"violence"},
			[]esc{{"selfcheck", "normal", "violence"}},
			[]string{"en", "es", "fr"}},
	} {
		for _, lang := range tc.langs {
			t.Run(tc.name+"."+lang, func(t *testing.T) {
				got, effs := walk(t, c, lang, "selfcheck", respondent(tc.when, tc.offer, tc.yes...))
				var escs []esc
				var counted []string
				for _, e := range effs {
					switch {
					case e.Kind == flows.EffectEscalate:
						escs = append(escs, esc{e.Reason, e.Priority, e.Value})
						if !slices.Contains(indicators, e.Value) {
							t.Errorf("escalation value %q is not an indicator id", e.Value)
						}
					case e.Kind == flows.EffectRecord && e.Topic == "selfcheck_sign":
						counted = append(counted, e.Value)
					}
				}
				if !slices.Equal(escs, tc.want) {
					t.Errorf("escalations %v, want %v", escs, tc.want)
				}
				if !slices.Equal(counted, tc.yes) {
					t.Errorf("counted %v, want %v", counted, tc.yes)
				}
				if n, want := strings.Count(got, "< "+text(t, c, lang, "selfcheck2.now")+"\n"), dangerCount(tc.yes); n != want {
					t.Errorf("asked whether it happens now %d times, want %d (once per danger sign)", n, want)
				}
				offers, want := strings.Count(got, "< "+text(t, c, lang, "selfcheck2.offer")+"\n"), 1
				if tc.when == "now" {
					want = 0
				}
				if offers != want {
					t.Errorf("a coach was offered %d times, want %d", offers, want)
				}
				if crisis := strings.Contains(got, "< "+text(t, c, lang, "runtime.crisis")+"\n"); crisis != (tc.when == "now") {
					t.Errorf("crisis reply sent: %v, want %v", crisis, tc.when == "now")
				}
				checkNoReplay(t, c, lang, got)
				golden(t, "walk.selfcheck_"+tc.name+"."+lang, got)
			})
		}
	}
}

func dangerCount(yes []string) int {
	n := 0
	for _, y := range yes {
		if slices.Contains(indicators, y) {
			n++
		}
	}
	return n
}

func text(t *testing.T, c *content.Content, lang, id string) string {
	t.Helper()
	s, err := c.Catalog.Text(lang, id, c.Data())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkNoReplay fails when the result, after the last question, shows a
// question again or names the signs the way the questions do: someone
// checking the phone may read the chat. (The old result listed "the signs
// you told us about"; those texts are gone from the locales.)
func checkNoReplay(t *testing.T, c *content.Content, lang, got string) {
	t.Helper()
	_, result, _ := strings.Cut(got, text(t, c, lang, "selfcheck.q.violence"))
	for _, id := range c.Catalog.IDs("en") {
		if strings.HasPrefix(id, "selfcheck.q.") && strings.Contains(result, text(t, c, lang, id)) {
			t.Errorf("the result repeats the question %s", id)
		}
		if strings.HasPrefix(id, "selfcheck.sign.") || id == "selfcheck.danger" || id == "selfcheck.result_intro" {
			t.Errorf("%s, a text that tells back an answer, is in the locales again", id)
		}
	}
}
