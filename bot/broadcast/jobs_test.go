package broadcast

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
)

func fairJob(clk *bottest.Clock) Job {
	return Job{Title: "Kitchen helper", Employer: "Hotel Sol", Sector: "hospitality", Location: "north",
		Pay: "12 USD/hour", Hours: "40 h/week", Contact: "Ask your coach", Languages: []string{"en", "es"},
		ExpiresAt: clk.Now().Add(30 * 24 * time.Hour), NoFees: true, WrittenContract: true, EmployerVetted: true}
}

func TestJobChecks(t *testing.T) {
	st := newStore(t)
	clk := bottest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	p := newProc(t, st, procOpts{clock: clk})
	ctx := context.Background()
	j := fairJob(clk)
	j.NoFees, j.EmployerVetted = false, false
	_, err := p.svc.PostJob(ctx, j)
	var inv *InvalidError
	if !errors.As(err, &inv) || strings.Join(inv.Failed, ",") != "no_fees,employer_vetted" || !strings.Contains(inv.Reason, "fair-recruitment") {
		t.Fatalf("unfair job: %v", err)
	}
	for name, mod := range map[string]func(*Job){
		"sector":  func(j *Job) { j.Sector = "mining" },
		"place":   func(j *Job) { j.Location = "any" },
		"title":   func(j *Job) { j.Title = " \x00 " },
		"expired": func(j *Job) { j.ExpiresAt = clk.Now().Add(-time.Hour) },
	} {
		j := fairJob(clk)
		mod(&j)
		if _, err := p.svc.PostJob(ctx, j); !errors.As(err, &inv) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	lists := Lists(p.rt.Content().Def)
	if strings.Join(lists.Sectors, ",") != "construction,care,farming,factory,hospitality" || len(lists.Locations) != 5 {
		t.Errorf("lists %+v", lists)
	}
}

// TestJobAlertsMatchAndInterest: a job goes at once to the instant
// subscribers whose sector and location fit, with a tip and the way to
// say "I'm interested"; weekly subscribers get it in the digest; the
// button opens a low-priority case with the job; expired jobs are never
// sent.
func TestJobAlertsMatchAndInterest(t *testing.T) {
	st := newStore(t)
	clk := bottest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	tg, sms := bottest.NewChannel("telegram"), bottest.NewChannel("sms")
	var mu sync.Mutex
	var effects []flows.Effect
	hook := func(_ context.Context, _ string, _ map[string]string, e flows.Effect) {
		mu.Lock()
		effects = append(effects, e)
		mu.Unlock()
	}
	actions := Actions(st, clk.Now, nil)
	p := newProc(t, st, procOpts{chans: []bot.Channel{tg, sms}, clock: clk, actions: actions,
		hooks: runner.Hooks{Effects: []bot.EffectHandler{hook}}})
	addPeople(t, p,
		person{addr: "fit", ch: "telegram", subs: []string{"jobs", "job_sector.hospitality", "job_sector.care", "job_location.north"}},
		person{addr: "other-sector", ch: "telegram", subs: []string{"jobs", "job_sector.construction", "job_location.north"}},
		person{addr: "other-place", ch: "telegram", subs: []string{"jobs", "job_sector.hospitality", "job_location.south"}},
		person{addr: "any", ch: "sms", prof: map[string]string{"lang": "es"}, subs: []string{"jobs", "job_sector.any", "job_location.any"}},
		person{addr: "legacy", ch: "telegram", subs: []string{"jobs"}},
		person{addr: "weekly", ch: "telegram", subs: []string{"jobs", "jobs_digest", "job_sector.any"}},
		person{addr: "stopped", ch: "telegram", prof: map[string]string{"stopped": "1"}, subs: []string{"jobs"}},
		person{addr: "nojobs", ch: "telegram"},
	)
	ctx := context.Background()
	j, err := p.svc.PostJob(ctx, fairJob(clk))
	if err != nil {
		t.Fatal(err)
	}
	soon := fairJob(clk)
	soon.Title = "Short job"
	soon.ExpiresAt = clk.Now().Add(time.Hour)
	if _, err := p.svc.PostJob(ctx, soon); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour) // the short job expires before anything is sent
	p.drive()

	got := map[string]int{}
	for _, a := range []string{"fit", "other-sector", "other-place", "legacy", "weekly", "stopped", "nojobs"} {
		got[a] = len(tg.To(a))
	}
	got["any"] = len(sms.To("any"))
	want := map[string]int{"fit": 1, "any": 1, "legacy": 1}
	for a, n := range got {
		if n != want[a] {
			t.Errorf("%s got %d alerts, want %d", a, n, want[a])
		}
	}
	alert := tg.To("fit")[0]
	for _, s := range []string{"New job offer", "Kitchen helper", "Hotel Sol", "Hotels and restaurants", "In the north", "12 USD/hour", "English, Español", "Safety tip"} {
		if !strings.Contains(alert.Text, s) {
			t.Errorf("alert lacks %q:\n%s", s, alert.Text)
		}
	}
	if len(alert.Options) != 1 || alert.Options[0].ID != bot.ActionOption("job", j.ID) {
		t.Fatalf("alert options %+v", alert.Options)
	}
	smsAlert := sms.To("any")[0]
	if len(smsAlert.Options) != 0 || !strings.Contains(smsAlert.Text, "COACH") || !strings.Contains(smsAlert.Text, j.Code()) ||
		!strings.Contains(smsAlert.Text, "Nueva oferta") {
		t.Errorf("SMS alert:\n%s %+v", smsAlert.Text, smsAlert.Options)
	}
	if s := status(t, p.svc, "job-"+j.ID); s.Status != StatusDone || s.Sent != 3 || s.Skipped != 1 {
		t.Errorf("alert status %+v", s)
	}

	// "I'm interested", pressed twice: one case.
	for range 2 {
		if err := p.rt.Accept(ctx, bot.Inbound{Channel: "telegram", Address: "fit", MessageID: "press-" + time.Now().String(),
			Choice: alert.Options[0].ID}); err != nil {
			t.Fatal(err)
		}
		p.Settle()
	}
	mu.Lock()
	var cases []flows.Effect
	for _, e := range effects {
		if e.Kind == flows.EffectEscalate {
			cases = append(cases, e)
		}
	}
	mu.Unlock()
	if len(cases) != 1 || cases[0].Reason != "job_interest" || cases[0].Priority != flows.PriorityLow || cases[0].Value != j.ID {
		t.Fatalf("escalations %+v", cases)
	}
	// The console shows each job's matches (instant or in the digest,
	// reachable) and interest.
	reach, err := p.svc.JobReaches(ctx, []Job{j})
	if err != nil || reach[j.ID] != (JobReach{Matches: 4, Interest: 1}) {
		t.Errorf("job reach %+v (%v), want 4 matches (fit, any, legacy, weekly) and 1 interested", reach, err)
	}
	replies := joined(tg.To("fit"))
	if !strings.Contains(replies, "A coach will write to you about this job") || !strings.Contains(replies, "already told your coach") {
		t.Errorf("answers to interest:\n%s", replies)
	}

	// The weekly digest: the live job only.
	id, err := p.svc.SendDigest(ctx)
	if err != nil || id == "" {
		t.Fatalf("digest %q, %v", id, err)
	}
	p.drive()
	dg := tg.To("weekly")
	if len(dg) != 1 || !strings.Contains(dg[0].Text, "1 new job this week:") || !strings.Contains(dg[0].Text, "1. Kitchen helper") ||
		strings.Contains(dg[0].Text, "Short job") || len(dg[0].Options) != 1 {
		t.Fatalf("digest %+v", dg)
	}
	if n := len(tg.To("fit")); n != 3 {
		t.Errorf("an instant subscriber got the digest too (%d messages)", n)
	}
	if id, err := p.svc.SendDigest(ctx); err != nil || id != "" {
		t.Errorf("a second digest with nothing new: %q, %v", id, err)
	}

	// Expired or deleted: interest is answered "closed", no case.
	out, eff := actions["job"]("x", nil, soon.ID)
	if len(eff) != 0 || out[0].Msg != "jobs.interest_closed" {
		t.Errorf("interest in an expired job: %v %v", out, eff)
	}
	if err := p.svc.DeleteJob(ctx, j.Code()); err != nil {
		t.Fatal(err)
	}
	out, eff = actions["job"]("y", nil, j.ID)
	if len(eff) != 0 || out[0].Msg != "jobs.interest_closed" {
		t.Errorf("interest in a deleted job: %v %v", out, eff)
	}
	if err := p.svc.DeleteJob(ctx, j.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	jobs, err := p.svc.ListJobs(ctx)
	if err != nil || len(jobs) != 1 || !jobs[0].Expired {
		t.Errorf("jobs after delete: %+v %v", jobs, err)
	}
}

// TestJobSubscriptionInChat walks the jobs flow: sector, another sector,
// location, weekly; then leaves.
func TestJobSubscriptionInChat(t *testing.T) {
	st := newStore(t)
	ch := bottest.NewChannel("test")
	p := newProc(t, st, procOpts{chans: []bot.Channel{ch}})
	// Onboarding, then Job alerts > Yes > Building work > Yes (another) >
	// Care > No > In the north > Once a week.
	p.Say("+7", "hi", "1", "1", "4", "1", "1", "1", "2", "2", "2", "2")
	prof, err := st.Profile(context.Background(), p.rt.PersonID("test", "+7"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sub.jobs", "sub.jobs_digest", "sub.job_sector.construction", "sub.job_sector.care", "sub.job_location.north"} {
		if prof[k] != "1" {
			t.Errorf("profile lacks %s: %v\n%s", k, prof, joined(ch.To("+7")))
		}
	}
	p.Say("+7", "menu", "4", "2")
	prof, _ = st.Profile(context.Background(), p.rt.PersonID("test", "+7"))
	if prof["sub.jobs"] != "" || prof["sub.jobs_digest"] != "" {
		t.Errorf("still subscribed after leaving: %v", prof)
	}
}
