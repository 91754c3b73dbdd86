package runner_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/store"
)

// TestWarmTurnsAsCold: people in several languages write now to one
// process, now to another, and a coach takes one of them on between two
// messages. A process answers a person whose last turn it ran warm, in one
// round trip; when another process or the coach has changed the person
// since, it finds out in that round trip and answers the usual way. Either
// way the conversation is, line for line, the one a single process with no
// warm turns holds.
func TestWarmTurnsAsCold(t *testing.T) {
	st := bottest.NewStore(t)
	ch := bottest.NewChannel("test")
	var mu sync.Mutex
	results := map[string]int{}
	count := bottest.WithConfig(func(c *runner.Config) {
		c.Hooks.Warm = func(_, result string) {
			mu.Lock()
			results[result]++
			mu.Unlock()
		}
	})
	start := func() *bottest.Harness {
		return bottest.Start(t, bottest.Stuck(pending), bottest.WithStore(st), bottest.WithChannels(ch), count)
	}
	a, b := start(), start()
	trips := st.CountTrips(nil)
	cold := bottest.Start(t, bottest.Stuck(pending), bottest.WithConfig(func(c *runner.Config) { c.Warm = -1 }))
	type line struct {
		on   *bottest.Harness
		text string
	}
	for _, lang := range []string{"en", "fr", "ar", "ne"} {
		t.Run(lang, func(t *testing.T) {
			addr := "+warm-" + lang
			script := []line{{a, "hi"}, {a, bottest.LangDigit(t, lang)}, {a, "1"}}
			for _, l := range script {
				l.on.Say(addr, l.text)
				cold.Say(addr, l.text)
			}
			// a ran the last turn: its next message is answered warm. b's
			// is not, and leaves a's state stale: a's next goes the usual
			// way, after one round trip that finds so and writes nothing.
			// Had a answered it from its older state, "1" would have
			// picked the first topic again, and the lines would differ.
			mu.Lock()
			clear(results)
			mu.Unlock()
			for i, l := range []line{{a, "1"}, {b, "2"}, {a, "1"}, {a, "menu"}, {a, "3"}} {
				mu.Lock()
				stale := results["stale"]
				mu.Unlock()
				before := trips.Snapshot()
				l.on.Say(addr, l.text)
				n := trips.Snapshot().Minus(before)
				mu.Lock()
				stale = results["stale"] - stale
				mu.Unlock()
				// A stale guess accepts the message the usual way in
				// the same round trip: no accept of its own follows.
				if stale > 0 && n[store.TripAccept] != 0 {
					t.Errorf("message %d: %d accepts after a stale warm turn, want none", i, n[store.TripAccept])
				}
				if i == 2 && stale != 1 {
					t.Errorf("a's message after b's turn: %d stale warm turns, want 1", stale)
				}
				cold.Say(addr, l.text)
			}
			// (Which process runs the very first turns depends on whose
			// queue reader is up first, so only the least is certain.)
			mu.Lock()
			if results["answered"] < 2 || results["stale"] < 1 {
				t.Errorf("warm turns: %v, want at least 2 answered and 1 stale", results)
			}
			mu.Unlock()
			// A coach takes the case: a's state no longer says so, and
			// the words go to the coach, not to the bot.
			for _, h := range []*bottest.Harness{a, cold} {
				err := h.Store.SetProfile(context.Background(), h.PersonID(addr), map[string]string{
					bot.RelayAlias: "K7QX", bot.RelayChannel: "test", bot.RelayAddress: string(h.RT.Sealer().Seal([]byte("coach-" + lang))),
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			a.Say(addr, "my boss kept my pay")
			cold.Say(addr, "my boss kept my pay")
			if got := ch.Texts("coach-" + lang); len(got) != 1 || !strings.Contains(got[0], "my boss kept my pay") {
				t.Errorf("the coach got %q", got)
			}
			got, want := strings.Join(ch.Texts(addr), "\n"), strings.Join(cold.Ch.Texts(addr), "\n")
			if got != want {
				t.Fatalf("with warm turns:\n%s\n\nwithout:\n%s", got, want)
			}
		})
	}
}
