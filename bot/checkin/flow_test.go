package checkin

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// harness runs a real runtime (one "process") with a recording channel
// and a scheduler in its effect hooks; effects are recorded too.
type harness struct {
	*bottest.Harness
	s       *Scheduler
	clk     *bottest.Clock
	mu      sync.Mutex
	effects []string
	cases   []string
}

func newHarness(t *testing.T, st *store.Store) *harness {
	t.Helper()
	h := &harness{clk: bottest.NewClock(time.Now())}
	log := slog.New(slog.DiscardHandler)
	h.Harness = bottest.Start(t, bottest.WithStore(st), bottest.Workers(2), bottest.WithConfig(func(c *runner.Config) {
		c.Log = log
		c.Hooks = runner.Hooks{Effects: []bot.EffectHandler{
			func(ctx context.Context, person string, profile map[string]string, e flows.Effect) {
				h.s.Effect(ctx, person, profile, e)
				h.s.CountAnswers(ctx, person, profile, e)
			},
			func(_ context.Context, _ string, _ map[string]string, e flows.Effect) {
				h.mu.Lock()
				defer h.mu.Unlock()
				h.effects = append(h.effects, strings.Join(strings.Fields(fmt.Sprint(e.Kind, " ", e.Reason, e.Topic, " ", e.Value, " ", e.Priority)), " "))
			},
		}}
	}), bottest.Before(func(b *bottest.Harness) {
		h.s = New(Config{Runtime: b.RT, DefaultTZ: time.UTC, Clock: h.clk.Now, Log: log,
			Escalate: func(_ context.Context, person, reason, priority string) {
				h.mu.Lock()
				defer h.mu.Unlock()
				h.cases = append(h.cases, reason+" "+priority)
			}})
	}))
	return h
}

func (h *harness) recorded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.effects)
}

// TestCheckinTranscript: a person agrees to check-ins from the menu
// (answering the three optional questions), the scheduler fires the first
// check-in through the real runtime, and risky answers escalate.
func TestCheckinTranscript(t *testing.T) {
	st := bottest.NewStore(t)
	h := newHarness(t, st)
	const addr = "+4470000001"
	person := h.RT.PersonID("test", addr)
	h.Say(addr, "hi", "1", "1")                                       // language, privacy: agree
	h.Say(addr, bottest.Digit(t, flows.FlowMenu, "", "checkin"), "1") // check-ins: yes
	h.Say(addr, "1", "3", "5")                                        // a woman, 25 to 34, Philippines
	p, err := st.Profile(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	if p[fGender] != "woman" || p[fAge] != "25_34" || p[fTZ] != "Asia/Manila" || p["sub.checkins"] != "1" {
		t.Fatalf("profile after agreeing: gender %q age %q tz %q sub %q", p[fGender], p[fAge], p[fTZ], p["sub.checkins"])
	}
	due, ok := fromMS(p[fDue])
	if !ok {
		t.Fatal("no check-in scheduled")
	}
	if l := due.In(mustLoc(t, "Asia/Manila")); l.Hour() != 10 || l.Minute() != 0 {
		t.Fatalf("first check-in at %s Manila time, want 10:00", l.Format("15:04"))
	}
	before := len(h.Lines())
	h.clk.Set(due)
	if n, err := h.s.FireDue(context.Background(), due); err != nil || n != 1 {
		t.Fatalf("fired %d (%v), want 1", n, err)
	}
	h.Settle()
	h.Say(addr, "1") // very bad
	h.Say(addr, "1") // working
	h.Say(addr, "4") // threats
	lines := h.Lines()[before:]
	transcript := strings.Join(lines, "\n")
	for _, want := range []string{
		"Hi, it's time for a short check-in. How are you today? [1 – Very bad | 2 – Bad | 3 – OK | 4 – Good | 5 – Very good | Skip]",
		"Thank you for telling me. A coach will write to you soon.",
		"Are you working or training now?",
		"Is anything wrong at work?",
		"A coach will contact you very soon.",
		"Thank you. Talk soon.",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	if first := strings.TrimPrefix(lines[0], addr+": "); strings.Contains(strings.ToLower(first), "traffick") || strings.Contains(strings.ToLower(first), "forced") || strings.Contains(strings.ToLower(first), "escape") {
		t.Errorf("first line not neutral: %s", first)
	}
	effects := strings.Join(h.recorded(), "\n")
	for _, want := range []string{
		"record profile.gender woman", "record profile.age 25_34", "record profile.tz Asia/Manila", "subscribe checkins",
		"record checkin.mood 1", "escalate checkin_low_mood normal",
		"record checkin.work working", "record checkin.problem threats", "escalate checkin_threats urgent",
	} {
		if !strings.Contains(effects, want) {
			t.Errorf("effects lack %q:\n%s", want, effects)
		}
	}
	if strings.Contains(effects, "checkin.contact") {
		t.Errorf("asked about contact after a coach was already on the way:\n%s", effects)
	}
	p, _ = st.Profile(context.Background(), person)
	if p[fAnswered] == "" || p[fAnswered] != p[fPending] || p[fWork] != "working" || p[fFirstWork] == "" {
		t.Errorf("profile after answering: answered %q pending %q work %q first_work %q", p[fAnswered], p[fPending], p[fWork], p[fFirstWork])
	}
	tab, err := h.s.Stats(context.Background(), due.AddDate(0, 0, -1), due.AddDate(0, 0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	tot := tab.Rows[0].Figures
	if tot["sent"].base != 1 || tot["answered"].base != 1 || tot["active"].base != 1 || tot["first_working"].base != 1 || tot["wellbeing_mean"].Value != 1 {
		t.Errorf("figures: %+v", tot)
	}
}

// TestCheckinContactAndReminder: the reminder flow asks the same questions;
// "yes, contact me" escalates with normal priority.
func TestCheckinContactAndReminder(t *testing.T) {
	st := bottest.NewStore(t)
	h := newHarness(t, st)
	const addr = "+4470000002"
	person := h.RT.PersonID("test", addr)
	h.Say(addr, "hi", "1", "1", bottest.Digit(t, flows.FlowMenu, "", "checkin"), "1", "4", "6", "6") // no gender or age, time zone not sure
	p, _ := st.Profile(context.Background(), person)
	due, ok := fromMS(p[fDue])
	if !ok {
		t.Fatal("no check-in scheduled")
	}
	h.clk.Set(due)
	if _, err := h.s.FireDue(context.Background(), due); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	next := due.Add(25 * time.Hour)
	h.clk.Set(next)
	if _, err := h.s.FireDue(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	h.Settle()
	before := len(h.Lines())
	h.Say(addr, "4", "3", "1") // good, looking for work, yes contact me
	lines := h.Lines()
	if !strings.Contains(strings.Join(lines, "\n"), "Hi again. When you have a minute") {
		t.Errorf("no reminder:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.Contains(strings.Join(lines[before:], "\n"), "Your coach will write to you here soon.") {
		t.Errorf("no contact confirmation:\n%s", strings.Join(lines[before:], "\n"))
	}
	if effects := strings.Join(h.recorded(), "\n"); !strings.Contains(effects, "escalate checkin_contact normal") {
		t.Errorf("no contact escalation:\n%s", effects)
	}
}
