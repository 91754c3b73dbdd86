package runner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store/storetest"
)

func TestSeeMyData(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.Say("+800", onboarding...)
	h.Say("+800", "my data")
	got := strings.Join(h.Lines(), "\n")
	for _, want := range []string{"This is everything we keep about you", "Your language: English", "How you reach us: test", "Lessons finished: 0", "Send DELETE"} {
		if !strings.Contains(got, want) {
			t.Errorf("my data lacks %q:\n%s", want, got)
		}
	}
}

func TestSafeWord(t *testing.T) {
	h := newHarness(t, nil, nil)
	st, rdb := h.Store, h.Store.Redis()
	h.Say("+900", onboarding...)
	h.Say("+900", "5", bottest.Digit(t, "settings", "list", "safeword"), "1", "Bluebird")
	if got := h.Lines(); !strings.Contains(got[len(got)-2]+got[len(got)-1], "safe word is saved") {
		t.Fatalf("safe word not confirmed: %v", got[len(got)-2:])
	}
	person := h.RT.PersonID("test", "+900")
	p, _ := st.Profile(context.Background(), person)
	if p["safeword"] == "" || strings.Contains(strings.ToLower(p["safeword"]), "bluebird") {
		t.Fatalf("safe word kept as %q", p["safeword"])
	}
	kept, _ := st.LoadSession(context.Background(), person)
	sess, _ := flows.ReadSession(person, kept)
	if _, kept := sess.Fields["safeword"]; kept {
		t.Fatal("the session still holds the safe word")
	}
	before := len(h.Lines())
	depth := func() int { return len(storetest.Entries(t, rdb, st.CaseStreams())) }
	cases := depth()
	h.Say("+900", "  BLUEBIRD ")
	reply := h.Lines()[before:]
	if len(reply) != 1 {
		t.Fatalf("want one harmless reply, got %v", reply)
	}
	for _, giveaway := range []string{"coach", "help", "safe", "danger", "case"} {
		if strings.Contains(strings.ToLower(reply[0]), giveaway) {
			t.Errorf("the reply %q shows that something happened", reply[0])
		}
	}
	if depth() != cases+1 {
		t.Fatalf("no case opened by the safe word")
	}
	es := storetest.Entries(t, rdb, st.CaseStreams())
	c, err := h.RT.OpenCase([]byte(es[len(es)-1].Values["p"].(string)))
	if err != nil || c.Reason != "safe_word" || c.Priority != "urgent" {
		t.Fatalf("case %+v, %v", c, err)
	}
}

func TestFloodLimit(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.Say("+1000", onboarding...)
	before := len(h.Lines())
	for i := range runner.FloodLimit + 10 {
		if err := h.RT.Accept(context.Background(), bot.Inbound{Channel: "test", Address: "+1000", MessageID: "f" + string(rune('a'+i)), Text: "menu"}); err != nil {
			t.Fatal(err)
		}
	}
	h.Settle()
	replies := h.Lines()[before:]
	slow := 0
	for _, r := range replies {
		if strings.Contains(r, "Please wait a moment") {
			slow++
		}
	}
	// The onboarding's 3 messages count in the same minute.
	if slow != 1 || len(replies) != runner.FloodLimit-3+1 {
		t.Fatalf("%d replies, %d slow-down notices: want %d and 1", len(replies), slow, runner.FloodLimit-3+1)
	}
}

// TestDeleteErasesEverything: after /delete no key refers to the person.
func TestDeleteErasesEverything(t *testing.T) {
	h := newHarness(t, nil, nil)
	st, rdb := h.Store, h.Store.Redis()
	h.Say("+1100", onboarding...)
	h.Say("+1100", "3", "1") // check-ins: yes (subscribes)
	person := h.RT.PersonID("test", "+1100")
	h.Say("+1100", "delete")
	h.Say("+1100", "1") // yes, delete everything
	if got := h.Lines(); !strings.Contains(got[len(got)-1], "Everything we kept about you is deleted") {
		t.Fatalf("last reply %q", got[len(got)-1])
	}
	ctx := context.Background()
	keys, _ := rdb.Keys(ctx, st.Key("*")).Result()
	for _, k := range keys {
		if strings.Contains(k, person) {
			t.Errorf("key %s remains", k)
		}
		switch rdb.Type(ctx, k).Val() {
		case "set":
			if ok, _ := rdb.SIsMember(ctx, k, person).Result(); ok {
				t.Errorf("set %s still holds the person", k)
			}
		case "zset":
			if _, err := rdb.ZScore(ctx, k, person).Result(); err == nil {
				t.Errorf("sorted set %s still holds the person", k)
			}
		}
	}
}

func TestRetention(t *testing.T) {
	h := newHarness(t, nil, nil)
	st, rdb := h.Store, h.Store.Redis()
	h.Say("+1200", onboarding...)
	h.Say("+1300", onboarding...)
	ctx := context.Background()
	ret := runner.Retention{Days: 365, DefaultTZ: time.UTC}
	now := time.Now()
	if n, e, err := h.RT.SweepRetention(ctx, now.Add(300*24*time.Hour), ret); err != nil || n != 0 || e != 0 {
		t.Fatalf("before a year: noticed %d, erased %d, %v", n, e, err)
	}
	later := now.Add(366 * 24 * time.Hour)
	if n, e, err := h.RT.SweepRetention(ctx, later, ret); err != nil || n != 2 || e != 0 {
		t.Fatalf("after a year: noticed %d, erased %d, %v", n, e, err)
	}
	h.Settle()
	if got := strings.Join(h.Lines(), "\n"); strings.Count(got, "We have not heard from you") != 2 {
		t.Fatalf("notices: %s", got)
	}
	// +1300 answers the notice (its "last" moves on); +1200 stays silent.
	if err := h.RT.Accept(ctx, bot.Inbound{Channel: "test", Address: "+1300", MessageID: "back", Text: "menu", At: later.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	if n, e, err := h.RT.SweepRetention(ctx, later.Add(8*24*time.Hour), ret); err != nil || e != 1 || n != 0 {
		t.Fatalf("after the grace: noticed %d, erased %d, %v", n, e, err)
	}
	gone, kept := h.RT.PersonID("test", "+1200"), h.RT.PersonID("test", "+1300")
	if n, _ := rdb.Exists(ctx, st.PersonKeyNames(gone)...).Result(); n != 0 {
		t.Errorf("%d keys of the silent person remain", n)
	}
	if ok, _ := st.Indexed(ctx, gone); ok {
		t.Error("the silent person is still in the people set")
	}
	if p, _ := st.Profile(ctx, kept); p["ch"] == "" {
		t.Error("the person who answered was erased")
	}
}
