package coach_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/flows"
)

// TestCoachSetsLongFollowUp: the coach holding a case marks its person for
// long follow-up with /followup, sees the mark, changes and clears it; a
// coach without the case cannot. Each change is audited without its
// reason, the person's MY DATA says a mark is kept without naming it, and
// DELETE erases it.
func TestCoachSetsLongFollowUp(t *testing.T) {
	ctx := context.Background()
	fake := telegramtest.NewServer(t)
	st := bottest.NewStore(t)
	// The check-in scheduler, as another process on the same Redis.
	srt := bottest.Runtime(t, runner.Config{Store: st})
	sched := checkin.New(checkin.Config{Runtime: srt, Log: bottest.Quiet()})
	w := newWorld(t, st, fake, options{poll: true, followUp: sched.SetFollowUp})
	person := w.rt.PersonID("telegram", fmt.Sprint(survivor))
	mark := func() string {
		t.Helper()
		p, err := w.st.Profile(ctx, person)
		if err != nil {
			t.Fatal(err)
		}
		return p[bot.FieldLongFollowUp]
	}

	onboard(t, fake)
	alias := claimedBy(t, fake, ana)

	fake.Type(ana, "/followup")
	expect(t, fake, ana, "Case "+alias+": usual follow-up.")
	expect(t, fake, ana, "Long follow-up keeps check-ins monthly to year 5")

	// No check-ins yet: the mark waits for them.
	fake.Type(ana, "/followup witness")
	expect(t, fake, ana, "Case "+alias+": long follow-up is on (witness against the traffickers). This person gets no check-ins now")
	if got := mark(); got != "witness" {
		t.Fatalf("mark %q, want witness", got)
	}

	// A coach who does not hold the case changes nothing.
	fake.Type(ben, "/followup "+alias+" off")
	expect(t, fake, ben, "You have no case with that name")
	fake.Type(ana, "/followup "+alias+" adult")
	waitFor(t, "help for an unknown reason", func() bool { return count(fake, ana, "Long follow-up keeps") == 2 })
	if got := mark(); got != "witness" {
		t.Fatalf("mark %q after refused commands, want witness", got)
	}

	// With check-ins, the coach hears that they stay monthly.
	if err := w.st.SetProfile(ctx, person, map[string]string{"sub.checkins": "1"}); err != nil {
		t.Fatal(err)
	}
	sched.Effect(ctx, person, nil, flows.Effect{Kind: flows.EffectSubscribe, Topic: checkin.Topic})
	fake.Type(ana, "/followup "+strings.ToLower(alias)+" minor")
	expect(t, fake, ana, "Case "+alias+": long follow-up is on (under 18). Check-ins stay monthly to year 5.")
	fake.Type(ana, "/followup "+alias)
	expect(t, fake, ana, "Case "+alias+": long follow-up (under 18).")
	fake.Type(ana, "/followup off")
	expect(t, fake, ana, "Case "+alias+": long follow-up is off.")
	if got := mark(); got != "" {
		t.Fatalf("mark %q after off", got)
	}
	fake.Type(ana, "/followup mental_health")
	expect(t, fake, ana, "(mental-health needs). Check-ins stay monthly")

	var actions []string
	log, err := w.st.AuditLog(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if strings.HasPrefix(e.Action, "followup.") {
			actions = append(actions, e.Action)
			if e.Target != alias || !strings.HasPrefix(e.Actor, "coach:") || strings.Contains(e.Actor, fmt.Sprint(ana)) {
				t.Errorf("audit entry %+v: want case %s by a pseudonymous coach", e, alias)
			}
		}
		for _, r := range coach.FollowUpReasons {
			if strings.Contains(e.Action+e.Target, r) {
				t.Errorf("audit entry %+v names the reason %s", e, r)
			}
		}
	}
	if want := []string{"followup.set", "followup.set", "followup.clear", "followup.set"}; !slices.Equal(actions, want) {
		t.Fatalf("audited %v, want %v", actions, want)
	}
	leaks(t, saidAll(fake, ana)+saidAll(fake, group), fmt.Sprint(survivor), person)

	// MY DATA says a mark is kept, in plain words, never which.
	fake.Type(ana, "/close")
	expect(t, fake, survivor, "finished this talk")
	fake.Type(survivor, "/mydata")
	expect(t, fake, survivor, "Longer follow-up, asked for by a coach")
	for _, m := range fake.BotSaid(survivor) {
		if strings.Contains(m, "Longer follow-up") {
			for _, word := range []string{"mental", "health", "witness", "minor", "18", "children", "traffick"} {
				if strings.Contains(strings.ToLower(m), word) {
					t.Errorf("MY DATA names the reason (%q):\n%s", word, m)
				}
			}
		}
	}

	// DELETE erases it with the rest of the profile.
	fake.Type(survivor, "/delete")
	expect(t, fake, survivor, "Delete everything we keep about you?")
	fake.Press(t, survivor, "Yes, delete everything")
	expect(t, fake, survivor, "Everything we kept about you is deleted")
	if n, err := st.Redis().Exists(ctx, w.st.ProfileKey(person)).Result(); err != nil || n != 0 {
		t.Fatalf("profile still there after DELETE (%d, %v)", n, err)
	}
}

// TestFollowUpReasonsAgree: the coach's reasons are the scheduler's, and
// each has its words for coaches.
func TestFollowUpReasonsAgree(t *testing.T) {
	if !slices.Equal(coach.FollowUpReasons, checkin.FollowUpReasons) {
		t.Fatalf("coach reasons %v, scheduler reasons %v", coach.FollowUpReasons, checkin.FollowUpReasons)
	}
	for _, r := range coach.FollowUpReasons {
		if !slices.Contains(coach.FollowUpMessageIDs, "followup.reason."+r) {
			t.Errorf("no followup.reason.%s in FollowUpMessageIDs", r)
		}
	}
	c := bottest.Content(t)
	for _, id := range append(slices.Clone(coach.FollowUpMessageIDs), "mydata.followup") {
		if missing := c.Catalog.Missing(id); len(missing) > 0 {
			t.Errorf("%s missing in %v", id, missing)
		}
	}
	// In no language does the MY DATA line name a reason.
	for _, lang := range c.Catalog.Languages() {
		line, err := c.Catalog.Text(lang, "mydata.followup", nil)
		if err != nil || line == "" {
			t.Errorf("%s: mydata.followup: %q, %v", lang, line, err)
		}
		for _, r := range coach.FollowUpReasons {
			label, _ := c.Catalog.Text(lang, "followup.reason."+r, nil)
			if label == "" || strings.Contains(strings.ToLower(line), strings.ToLower(label)) || strings.Contains(line, r) {
				t.Errorf("%s: MY DATA line %q names reason %s (%q)", lang, line, r, label)
			}
		}
	}
}
