package runner_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// safetyCase is one language's crisis sentence and a near-miss that uses
// crisis-like words in an ordinary sense.
var safetyCases = []struct {
	lang, crisis, calm string
}{
	{"en", "he hit me again last night", "my emergency contact is my sister"},
	{"es", "me pegó y no me deja salir", "el caso ya está cerrado, gracias"},
	{"fr", "je vais me suicider", "j'ai enfermé mes clés dans la voiture"},
	{"pt", "socorro, ele me bateu", "o caso foi encerrado, obrigado"},
	{"ru", "помогите, меня избили", "я забыл паспорт дома, где взять справку?"},
	{"ar", "النجدة الكفيل ضربني", "أريد تجديد جواز السفر"},
	{"tl", "saklolo, binugbog ako ng amo ko", "emergency contact ko si ate"},
	{"ne", "मलाई बचाउ, साहुले कुट्यो", "मेरो राहदानी नवीकरण गर्नु छ"},
}

// lastCase returns the newest case on the case stream and how many there are.
func lastCase(t *testing.T, h *bottest.Harness) (runner.Case, int64) {
	t.Helper()
	rdb := h.Store.Redis()
	es := storetest.Entries(t, rdb, h.Store.CaseStreams())
	n := int64(len(es))
	if n == 0 {
		return runner.Case{}, 0
	}
	c, err := h.RT.OpenCase([]byte(es[n-1].Values["p"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

// TestCrisisInEveryLanguage: in each shipped language, a crisis sentence
// gets the crisis reply in that language, alone, and an urgent case; a
// near-miss gets the ordinary answer and no case.
func TestCrisisInEveryLanguage(t *testing.T) {
	c := bottest.Content(t)
	for _, tc := range safetyCases {
		t.Run(tc.lang, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			addr := "+crisis-" + tc.lang
			h.Say(addr, "hi", bottest.LangDigit(t, tc.lang), "1")
			want := h.RT.Render(tc.lang, "runtime.crisis", nil)

			before := len(h.Ch.Texts(addr))
			h.Say(addr, tc.calm)
			calm := h.Ch.Texts(addr)[before:]
			if slices.Contains(calm, want) {
				t.Errorf("near-miss %q got the crisis reply", tc.calm)
			}
			if _, n := lastCase(t, h); n != 0 {
				t.Errorf("near-miss %q opened a case", tc.calm)
			}

			before = len(h.Ch.Texts(addr))
			h.Say(addr, tc.crisis)
			got := h.Ch.Texts(addr)[before:]
			if len(got) != 1 || got[0] != want {
				t.Fatalf("%q: want the crisis reply alone\n  %q\ngot %q", tc.crisis, want, got)
			}
			cs, n := lastCase(t, h)
			if n != 1 || cs.Reason != "crisis" || cs.Priority != "urgent" || cs.Lang != tc.lang {
				t.Fatalf("case %+v (%d cases), want one urgent crisis case in %s", cs, n, tc.lang)
			}
			if !strings.Contains(want, c.DataFor(tc.lang)["emergency"]) {
				t.Errorf("the crisis reply %q lacks the emergency number", want)
			}
			// The person is where they were: the menu still answers.
			before = len(h.Lines())
			h.Say(addr, "1")
			if len(h.Lines()) == before {
				t.Error("no answer after the crisis reply")
			}
		})
	}
}

// TestCrisisBeforeFlood: a person who has sent too many messages still gets
// the crisis reply and a case.
func TestCrisisBeforeFlood(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.Say("+flood", onboarding...)
	ctx := context.Background()
	for i := range runner.FloodLimit + 5 {
		if err := h.RT.Accept(ctx, bot.Inbound{Channel: "test", Address: "+flood", MessageID: fmt.Sprint("fl", i), Text: "menu"}); err != nil {
			t.Fatal(err)
		}
	}
	h.Settle()
	before := len(h.Ch.Texts("+flood"))
	h.Say("+flood", "they beat me, help")
	got := h.Ch.Texts("+flood")[before:]
	if want := h.RT.Render("en", "runtime.crisis", nil); !slices.Contains(got, want) {
		t.Fatalf("flooded person got %q, not the crisis reply", got)
	}
	if cs, n := lastCase(t, h); n != 1 || cs.Reason != "crisis" {
		t.Fatalf("case %+v (%d), want one crisis case", cs, n)
	}
}

// TestCrisisDuringRelay: while a coach relays, the words go to the coach as
// they are, and an urgent case is raised as well.
func TestCrisisDuringRelay(t *testing.T) {
	h := newHarness(t, nil, nil)
	st := h.Store
	h.Say("+relay", onboarding...)
	person := h.RT.PersonID("test", "+relay")
	ctx := context.Background()
	err := st.SetProfile(ctx, person, map[string]string{
		bot.RelayAlias: "K7QX", bot.RelayChannel: "test", bot.RelayAddress: string(h.RT.Sealer().Seal([]byte("coach-1"))),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Say("+relay", "I am fine today")
	h.Say("+relay", "he hit me again")
	toCoach := h.Ch.Texts("coach-1")
	if len(toCoach) != 2 || !strings.Contains(toCoach[1], "he hit me again") {
		t.Fatalf("the coach got %q", toCoach)
	}
	if toPerson := h.Ch.Texts("+relay"); slices.Contains(toPerson, h.RT.Render("en", "runtime.crisis", nil)) {
		t.Error("the bot broke into the relay with its crisis reply")
	}
	cs, n := lastCase(t, h)
	if n != 1 || cs.Reason != "crisis" || cs.Priority != "urgent" {
		t.Fatalf("case %+v (%d), want an urgent crisis case", cs, n)
	}
}

// TestSafeWordNeverKept: the safe word is in no case excerpt, even in a
// batch with other messages and a crisis.
func TestSafeWordNeverKept(t *testing.T) {
	h := newHarness(t, nil, nil)
	st := h.Store
	h.Say("+sw", onboarding...)
	h.Say("+sw", "5", bottest.Digit(t, "settings", "list", "safeword"), "1", "Bluebird")
	ctx := context.Background()
	for i, text := range []string{"hello there", "bluebird", "they took my passport", "BLUEBIRD!"} {
		if err := h.RT.Accept(ctx, bot.Inbound{Channel: "test", Address: "+sw", MessageID: fmt.Sprint("sw", i), Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	h.Settle()
	es := storetest.Entries(t, st.Redis(), st.CaseStreams())
	if len(es) == 0 {
		t.Fatal("no cases")
	}
	reasons := map[string]bool{}
	for _, e := range es {
		c, err := h.RT.OpenCase([]byte(e.Values["p"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		reasons[c.Reason] = true
		for _, line := range c.Excerpt {
			if strings.Contains(strings.ToLower(line), "bluebird") {
				t.Errorf("case %s keeps the safe word in its excerpt: %q", c.Reason, c.Excerpt)
			}
		}
	}
	if !reasons["safe_word"] {
		t.Errorf("no safe-word case among %v", reasons)
	}
}
