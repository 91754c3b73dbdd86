package runner_test

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/decide")

// decideHash stands in for the sealer's keyed hash.
func decideHash(kind, v string) string { return "h(" + kind + ":" + v + ")" }

// script is a person's side of a transcript: each step is one turn, of one
// or more messages sent together.
type script struct {
	name    string
	profile map[string]string
	lang    string // the session's language ("" before one is chosen)
	turns   [][]string
	// flood sends this many "menu" messages (one turn) before the script.
	flood int
}

// transcript runs s through Decide alone (no Redis, no sealer), carrying
// the session and profile from turn to turn as the runner would, and writes
// what happened: "> " what the person sent, "< " what the bot answered,
// "→ coach: " what went to the coach, "! case " each case opened.
func transcript(t *testing.T, d *runner.Decider, s script) string {
	t.Helper()
	profile := maps.Clone(s.profile)
	if profile == nil {
		profile = map[string]string{}
	}
	var sess flows.Session
	if s.lang != "" {
		sess.Fields = map[string]string{"lang": s.lang}
		profile["lang"] = s.lang
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var b strings.Builder
	turn := func(texts []string, quiet bool) {
		in := runner.TurnInput{Person: "p1", Profile: profile, Session: sess, Now: now}
		for i, text := range texts {
			in.Inbox = append(in.Inbox, bot.Inbound{Channel: "test", MessageID: fmt.Sprint(i), Text: text, At: now})
			if !quiet {
				fmt.Fprintf(&b, "> %s\n", text)
			}
		}
		res := d.Decide(in)
		if !quiet {
			for _, r := range res.Replies {
				fmt.Fprintf(&b, "< %s\n", r.Text)
			}
			for _, r := range res.Relayed {
				fmt.Fprintf(&b, "→ coach: %s\n", r.Text)
			}
			for _, c := range res.Cases {
				fmt.Fprintf(&b, "! case %s %s excerpt=%q\n", c.Reason, c.Priority, c.Excerpt)
			}
		}
		sess = res.Session
		for k, v := range res.Profile {
			if v == "" {
				delete(profile, k)
			} else {
				profile[k] = v
			}
		}
		now = now.Add(time.Second)
	}
	if s.flood > 0 {
		var menus []string
		for range s.flood {
			menus = append(menus, "menu")
		}
		turn(menus, true)
		fmt.Fprintf(&b, "(%d messages in the last second)\n", s.flood)
	}
	for _, texts := range s.turns {
		turn(texts, false)
	}
	return b.String()
}

// TestDecideTranscripts are the safety rules as transcripts of Decide: the
// safe word, crisis words (alone, in a batch, in a flood, in a relay), in
// several languages.
func TestDecideTranscripts(t *testing.T) {
	c, err := testContent()
	if err != nil {
		t.Fatal(err)
	}
	d := runner.NewDecider(c, nil, decideHash, nil)
	relay := map[string]string{bot.RelayAlias: "K7QX", bot.RelayChannel: "telegram"}
	safe := map[string]string{"safeword": decideHash("safeword", "bluebird")}
	for _, s := range []script{
		{name: "crisis.en", lang: "en", turns: [][]string{{"menu"}, {"he hit me again, I am scared"}, {"1"}}},
		{name: "crisis.fr", lang: "fr", turns: [][]string{{"je vais me suicider"}}},
		{name: "crisis.ar", lang: "ar", turns: [][]string{{"الكفيل ضربني وقافل علي الباب"}}},
		{name: "crisis.ne", lang: "ne", turns: [][]string{{"malai kutyo, bachau"}}},
		{name: "near_miss.pt", lang: "pt", turns: [][]string{{"o caso foi encerrado, obrigado"}}},
		{name: "near_miss.tl", lang: "tl", turns: [][]string{{"emergency contact ko si ate"}}},
		{name: "crisis_batch_one_case.es", lang: "es", turns: [][]string{{"me pegó", "no me deja salir", "auxilio"}}},
		{name: "crisis_no_language_yet", turns: [][]string{{"помогите меня избили"}}},
		{name: "crisis_in_flood.en", lang: "en", flood: 40, turns: [][]string{{"menu"}, {"they beat me"}}},
		{name: "crisis_in_relay.en", lang: "en", profile: relay, turns: [][]string{{"hello coach"}, {"he is going to kill me"}}},
		{name: "safe_word.en", lang: "en", profile: safe, turns: [][]string{{"hi", "Bluebird", "they took my passport"}, {"BLUEBIRD"}}},
		{name: "safe_word_in_flood.en", lang: "en", profile: safe, flood: 40, turns: [][]string{{"bluebird"}}},
	} {
		t.Run(s.name, func(t *testing.T) {
			got := transcript(t, d, s)
			for _, line := range strings.Split(got, "\n") {
				if strings.HasPrefix(line, "! case") && strings.Contains(strings.ToLower(line), "bluebird") {
					t.Errorf("the safe word is in a case excerpt: %s", line)
				}
			}
			golden(t, s.name, got)
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "decide", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./bot/runner -run TestDecideTranscripts -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("transcript %s differs from %s (-update rewrites it)\ngot:\n%s\nwant:\n%s", name, path, got, want)
	}
}
