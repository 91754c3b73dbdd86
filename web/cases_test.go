package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/bot/workspace"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/locales"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
	"github.com/lifeline-org/lifeline/web"
)

// workEnv is a console with the coach module and the workspace channel
// on a running runtime, on a private Redis with AOF on.
type workEnv struct {
	*env
	h     *bottest.Harness
	tg    *bottest.Channel
	srv   *storetest.Server
	sched *checkin.Scheduler
}

func newWorkEnv(t *testing.T) *workEnv {
	t.Helper()
	srv := storetest.StartServer(t)
	sealer := bottest.Sealer(t)
	st := store.New(srv.Client(t), "ll", store.WithSealer(sealer))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tg := bottest.NewChannel("telegram")
	work := workspace.New(st, sealer, nil)
	var coaches *coach.Module
	var sched *checkin.Scheduler
	h := bottest.Start(t, bottest.WithStore(st), bottest.WithChannels(tg, work),
		bottest.Before(func(h *bottest.Harness) {
			sched = checkin.New(checkin.Config{Runtime: h.RT, Log: log})
			coaches = coach.New(coach.Config{Runtime: h.RT, Log: log})
			h.RT.OnEffect(coaches.Effect, flows.EffectStop, flows.EffectDelete)
			h.RT.OnEffect(sched.CountAnswers, flows.EffectRecord)
			h.Go(func(ctx context.Context) { _ = coaches.Run(ctx) })
		}))
	acc := web.NewAccounts(st, sealer, nil)
	texts, err := locales.LoadConsole(nil)
	if err != nil {
		t.Fatal(err)
	}
	bc := broadcast.New(broadcast.Config{Runtime: h.RT, Log: log})
	con, err := web.New(web.Config{Store: st, Accounts: acc, Texts: texts, Content: h.RT.Content(), Broadcasts: bc,
		Figures: sched, Coaches: coaches, Sealer: sealer, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	con.Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	e := &env{t: t, srv: hs, st: st, acc: acc, clock: bottest.NewClock(time.Now()), bc: bc}
	return &workEnv{env: e, h: h, tg: tg, srv: srv, sched: sched}
}

// asks makes a person on Telegram (addr) who asks for a coach, and
// returns the case alias once the coach module opened it.
func (w *workEnv) asks(addr string) string {
	w.t.Helper()
	w.h.Say(addr, "hello")
	person := w.h.RT.PersonID("telegram", addr)
	if err := w.h.RT.Escalate(context.Background(), person, "asked", flows.PriorityNormal, ""); err != nil {
		w.t.Fatal(err)
	}
	var alias string
	bottest.WaitFor(w.t, "the case opened", func() bool {
		prof, _ := w.st.Profile(context.Background(), person)
		alias = prof["case"]
		return alias != ""
	})
	return alias
}

// TestCaseWorkspace: a case appears in every coach's queue; two coaches
// claim it at once and one wins; the other gets 403 on it; the winner
// answers and the person's own channel gets it; the person's answer lands
// in the conversation; notes and the plan are sealed, shown in MY DATA,
// and gone after DELETE; hand-over tells the person; closing with an
// outcome counts in the figures.
func TestCaseWorkspace(t *testing.T) {
	w := newWorkEnv(t)
	for _, a := range [][2]string{{"cora", web.RoleCoach}, {"carl", web.RoleCoach}, {"sue", web.RoleSupervisor}, {"sam", web.RoleStaff}} {
		w.account(a[0], a[1])
	}
	cora, carl, sue, sam := w.signIn("cora"), w.signIn("carl"), w.signIn("sue"), w.signIn("sam")
	alias := w.asks("p1")
	for name, c := range map[string]*http.Client{"cora": cora, "carl": carl, "sue": sue} {
		if r, page := w.get(c, "/console/cases"); r.StatusCode != http.StatusOK || !strings.Contains(page, alias) || !strings.Contains(page, "asked for a coach") {
			t.Errorf("%s's queue lacks the case: %d", name, r.StatusCode)
		}
	}
	if r, _ := w.get(sam, "/console/cases"); r.StatusCode != http.StatusForbidden {
		t.Errorf("staff on the case queue: %d", r.StatusCode)
	}

	// Both coaches press Claim at once: one wins.
	var wg sync.WaitGroup
	where := map[string]string{}
	var mu sync.Mutex
	for name, c := range map[string]*http.Client{"cora": cora, "carl": carl} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := w.post(c, "/console/cases/"+alias+"/claim", nil)
			resp.Body.Close()
			mu.Lock()
			where[name] = resp.Header.Get("Location")
			mu.Unlock()
		}()
	}
	wg.Wait()
	winner, loser, wc, lc := "cora", "carl", cora, carl
	if strings.Contains(where["cora"], "taken") {
		winner, loser, wc, lc = "carl", "cora", carl, cora
	}
	if !strings.Contains(where[winner], "msg=claimed") || !strings.Contains(where[loser], "msg=taken") {
		t.Fatalf("claims at once: %v", where)
	}
	if r, _ := w.get(lc, "/console/cases/"+alias); r.StatusCode != http.StatusForbidden {
		t.Errorf("%s opening %s's case: %d, want 403", loser, winner, r.StatusCode)
	}
	resp := w.post(lc, "/console/cases/"+alias+"/reply", url.Values{"text": {"let me in"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("%s replying in %s's case: %d", loser, winner, resp.StatusCode)
	}
	bottest.WaitFor(t, "the person told a coach is here", func() bool { return strings.Contains(joined(w.tg.To("p1")), winner) })

	// The winner answers; the person's channel gets it, protected.
	resp = w.post(wc, "/console/cases/"+alias+"/reply", url.Values{"text": {"Hello, I can help with your papers."}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply: %d", resp.StatusCode)
	}
	bottest.WaitFor(t, "the reply on Telegram", func() bool { return strings.Contains(joined(w.tg.To("p1")), "I can help with your papers") })
	// The person answers; it lands in the conversation, not in the bot.
	w.h.Say("p1", "Thank you, my passport is with the boss")
	bottest.WaitFor(t, "the answer in the conversation", func() bool {
		_, page := w.get(wc, "/console/cases/"+alias)
		return strings.Contains(page, "my passport is with the boss") && strings.Contains(page, "I can help with your papers")
	})

	// Notes and the plan, sealed at rest.
	for _, f := range []url.Values{
		{"text": {"Interview at the bakery on Monday"}},
	} {
		resp = w.post(wc, "/console/cases/"+alias+"/note", f)
		resp.Body.Close()
	}
	resp = w.post(wc, "/console/cases/"+alias+"/plan", url.Values{"goals": {"Find a room to rent\nOpen a bank account"},
		"ref_service": {"legal_aid"}, "ref_status": {"made"}, "ref_date": {"2026-12-10"}})
	resp.Body.Close()
	_, page := w.get(wc, "/console/cases/"+alias)
	for _, want := range []string{"Interview at the bakery on Monday", "Find a room to rent", `value="2026-12-10"`} {
		if !strings.Contains(page, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	secrets := []string{"Interview at the bakery", "Find a room to rent", "Open a bank account", "my passport is with the boss", "I can help with your papers"}
	w.scanFiles(secrets)

	// Hand over to the supervisor with a note; the person is told.
	resp = w.post(wc, "/console/cases/"+alias+"/handover", url.Values{"to": {"sue"}, "note": {"Knows about the bakery"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hand-over: %d", resp.StatusCode)
	}
	bottest.WaitFor(t, "the person told of the hand-over", func() bool { return strings.Contains(joined(w.tg.To("p1")), "Another coach, sue") })
	if r, _ := w.get(wc, "/console/cases/"+alias); r.StatusCode != http.StatusForbidden {
		t.Errorf("the former coach opening the case: %d", r.StatusCode)
	}
	if r, page := w.get(sue, "/console/cases"); r.StatusCode != http.StatusOK || !strings.Contains(page, "Workload") {
		t.Errorf("supervisor's queue: %d", r.StatusCode)
	}

	// Close with an outcome: counted in the figures.
	resp = w.post(sue, "/console/cases/"+alias+"/close", url.Values{"outcome": {"helped"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	table, err := w.sched.Stats(context.Background(), time.Now().AddDate(0, 0, -7), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	counted := false
	for _, sec := range table.Answers {
		if sec.Topic == "case_outcome" {
			for _, row := range sec.Rows {
				if row.Total && row.Figures["helped"].Suppressed {
					counted = true // one case: shown as <5
				}
			}
		}
	}
	if !counted {
		t.Errorf("the outcome is not in the figures: %+v", table.Answers)
	}
	entries, _ := w.st.AuditRecent(context.Background(), 50)
	var acts []string
	for _, e := range entries {
		acts = append(acts, e.Actor+" "+e.Action)
	}
	for _, want := range []string{"coach:" + winner + " case.claim", "coach:" + winner + " case.view", "coach:" + winner + " case.reply",
		"coach:" + winner + " case.handover", "supervisor:sue case.close.helped"} {
		if !strings.Contains(strings.Join(acts, "\n"), want) {
			t.Errorf("audit lacks %q", want)
		}
	}

	// MY DATA shows the plan and the notes; DELETE erases them.
	w.h.Say("p1", "my data")
	bottest.WaitFor(t, "MY DATA with the plan and notes", func() bool {
		all := joined(w.tg.To("p1"))
		return strings.Contains(all, "Find a room to rent") && strings.Contains(all, "Interview at the bakery on Monday")
	})
	person := w.h.RT.PersonID("telegram", "p1")
	w.h.Say("p1", "delete")
	w.h.Say("p1", "1")
	bottest.WaitFor(t, "the person erased", func() bool {
		prof, _ := w.st.Profile(context.Background(), person)
		n, _ := w.srv.Client(t).Exists(context.Background(), w.st.CaseLogKey(alias)).Result()
		return len(prof) == 0 && n == 0
	})
}

// scanFiles fails the test if Redis's AOF or RDB files hold any secret.
func (w *workEnv) scanFiles(secrets []string) {
	w.t.Helper()
	rdb := w.srv.Client(w.t)
	if err := rdb.Save(context.Background()).Err(); err != nil {
		w.t.Fatal(err)
	}
	var files []string
	_ = filepath.Walk(w.srv.Dir(), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.Contains(p, ".aof") || strings.HasSuffix(p, ".rdb")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 2 {
		w.t.Fatalf("no AOF and RDB files in %s", w.srv.Dir())
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				w.t.Errorf("%s holds %q in plain text", filepath.Base(f), s)
			}
		}
	}
}

func joined(ms []bot.Outbound) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Text)
		b.WriteString("\n")
	}
	return b.String()
}
