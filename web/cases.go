package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/bot/sms"
	"github.com/lifeline-org/lifeline/bot/workspace"
	"github.com/lifeline-org/lifeline/flows"
)

// The coach workspace (guidelines 3c, 3d): the case queue, each case's
// conversation, the person's plan and their coach's notes. A coach sees
// unclaimed cases and their own; a supervisor or an admin every case.

// caseRow is one line of the queue, as the page and its live updates
// show it: nothing that names the person.
type caseRow struct {
	Alias    string `json:"alias"`
	Priority string `json:"priority"`
	PrioText string `json:"prio_text"`
	Urgent   bool   `json:"urgent"`
	Reason   string `json:"reason"`
	Lang     string `json:"lang"`
	Channel  string `json:"channel"`
	Waiting  string `json:"waiting"`
	Over     bool   `json:"over"`
	Coach    string `json:"coach"`
	Mine     bool   `json:"mine"`
	Open     bool   `json:"open"`
}

// supervises reports whether the session sees and acts on every case.
func (s *session) supervises() bool {
	return s.acct.Role == RoleSupervisor || s.acct.Role == RoleAdmin
}

// visible reports whether s may see the case in the queue.
func (s *session) visible(c *coach.CaseRecord) bool {
	return s.supervises() || c.State == coach.StateOpen || c.Account == s.acct.Name
}

func (c *Console) rows(ctx context.Context, s *session) ([]caseRow, error) {
	list, err := c.cfg.Coaches.OpenCases(ctx)
	if err != nil {
		return nil, err
	}
	p := &page{Lang: s.lang, texts: c.cfg.Texts}
	now := c.now()
	var out []caseRow
	for _, cs := range list {
		if !s.visible(cs) {
			continue
		}
		out = append(out, c.row(p, s, cs, now))
	}
	// Urgent first, then the longest waiting.
	slices.SortStableFunc(out, func(a, b caseRow) int {
		if a.Urgent != b.Urgent {
			if a.Urgent {
				return -1
			}
			return 1
		}
		return 0
	})
	return out, nil
}

func (c *Console) row(p *page, s *session, cs *coach.CaseRecord, now time.Time) caseRow {
	r := caseRow{Alias: cs.Alias, Priority: cs.Priority, Urgent: cs.Priority == flows.PriorityUrgent,
		Lang: c.cfg.Content.Catalog.Raw(cs.Lang, "lang.name"), Channel: p.T("console.channel." + cs.Channel),
		Open: cs.State == coach.StateOpen, Mine: cs.Account != "" && cs.Account == s.acct.Name}
	if r.Lang == "" {
		r.Lang = cs.Lang
	}
	r.PrioText = p.T("console.cases.priority." + cs.Priority)
	r.Reason = c.reasonText(p, cs.Reason)
	waited := now.Sub(cs.Opened)
	if !cs.Claimed.IsZero() {
		waited = cs.Claimed.Sub(cs.Opened)
	}
	target := c.cfg.Targets[cs.Priority]
	r.Over = cs.State == coach.StateOpen && target > 0 && waited > target
	r.Waiting = p.T("console.cases.waited", "time", span(p, waited), "target", span(p, target))
	switch {
	case cs.Account != "":
		r.Coach = cs.Account
	case cs.Coach != 0:
		r.Coach = p.T("console.cases.telegram_coach")
	default:
		r.Coach = p.T("console.cases.nobody")
	}
	return r
}

// reasonText names why a case opened in neutral words.
func (c *Console) reasonText(p *page, reason string) string {
	id := "console.reason." + reason
	if c.cfg.Texts.Raw(p.Lang, id) != "" {
		return p.T(id)
	}
	return p.T("console.reason.other")
}

// span writes a duration for people: minutes, hours or days.
func span(p *page, d time.Duration) string {
	switch {
	case d < time.Hour:
		return p.T("console.minutes", "n", int(d.Minutes()))
	case d < 48*time.Hour:
		return p.T("console.hours", "n", int(d.Hours()))
	}
	return p.T("console.days", "n", int(d.Hours()/24))
}

type workload struct {
	Coach   string
	Open    int
	Oldest  string
	oldestT time.Time
}

type casesData struct {
	form
	Rows     []caseRow
	Workload []workload
	Super    bool
}

func (c *Console) cases(w http.ResponseWriter, r *http.Request, s *session) error {
	rows, err := c.rows(r.Context(), s)
	if err != nil {
		return err
	}
	d := &casesData{Rows: rows, Super: s.supervises()}
	if d.Super {
		if d.Workload, err = c.workload(r.Context(), s); err != nil {
			return err
		}
	}
	if m := r.URL.Query().Get("msg"); m == "taken" {
		d.Err = "console.cases.taken"
	} else if m == "closed" || m == "handed" {
		d.Msg = "console.cases." + m
	}
	c.render(w, r, s, "cases", d)
	return nil
}

// workload is, per coach, the cases they hold and the oldest of them.
func (c *Console) workload(ctx context.Context, s *session) ([]workload, error) {
	list, err := c.cfg.Coaches.OpenCases(ctx)
	if err != nil {
		return nil, err
	}
	p := &page{Lang: s.lang, texts: c.cfg.Texts}
	by := map[string]*workload{}
	for _, cs := range list {
		if cs.State != coach.StateClaimed {
			continue
		}
		name := cs.Account
		if name == "" {
			name = p.T("console.cases.telegram_coach")
		}
		wl := by[name]
		if wl == nil {
			wl = &workload{Coach: name}
			by[name] = wl
		}
		wl.Open++
		if wl.oldestT.IsZero() || cs.Opened.Before(wl.oldestT) {
			wl.oldestT = cs.Opened
		}
	}
	var out []workload
	for _, wl := range by {
		wl.Oldest = span(p, c.now().Sub(wl.oldestT))
		out = append(out, *wl)
	}
	slices.SortFunc(out, func(a, b workload) int { return strings.Compare(a.Coach, b.Coach) })
	return out, nil
}

// caseEvents streams the queue as server-sent events: a "queue" event
// with the rows whenever they change. The stream ends after a few minutes
// and the browser opens it again (with the session checked again).
func (c *Console) caseEvents(w http.ResponseWriter, r *http.Request, s *session) error {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the server's write timeout would cut the stream
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	end := time.After(5 * time.Minute)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last []byte
	beat := time.Now()
	for {
		rows, err := c.rows(ctx, s)
		if err == nil {
			b, _ := json.Marshal(rows)
			if string(b) != string(last) {
				last = b
				if _, err := fmt.Fprintf(w, "event: queue\ndata: %s\n\n", b); err != nil {
					return nil
				}
				if err := rc.Flush(); err != nil {
					return nil
				}
				beat = time.Now()
			}
		}
		if time.Since(beat) > 15*time.Second {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
			beat = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-end:
			return nil
		case <-tick.C:
		}
	}
}

// caseData is the case page.
type caseData struct {
	form
	Row        caseRow
	Case       *coach.CaseRecord
	Full       bool // the holder or a supervisor: conversation, notes, plan
	Claimable  bool
	Entries    []workspace.Entry
	Notes      []bot.Note
	Plan       bot.Plan
	Goals      string
	Services   string
	PersonLang string
	TZ         string
	Quiet      bool
	Channel    string
	Replies    []choice
	Reply      string
	Count      sms.Count
	Coaches    []string
	Outcomes   []choice
	Resources  []choice
	Statuses   []choice
	FollowUp   bool
}

// loadCase reads a case the session may open: a coach their own or an
// unclaimed one, a supervisor any (404 for none, 403 for another coach's).
func (c *Console) loadCase(ctx context.Context, s *session, alias string) (*coach.CaseRecord, bool, error) {
	cs, err := c.cfg.Coaches.Case(ctx, alias)
	if err != nil {
		return nil, false, err
	}
	if cs == nil || cs.State == coach.StateClosed {
		return nil, false, refuse(http.StatusNotFound, "console.error.not_found")
	}
	full := s.supervises() || (cs.State == coach.StateClaimed && cs.Account == s.acct.Name)
	if !full && cs.State != coach.StateOpen {
		return nil, false, refuse(http.StatusForbidden, "console.cases.not_yours")
	}
	return cs, full, nil
}

func (c *Console) casePage(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	cs, full, err := c.loadCase(ctx, s, r.PathValue("alias"))
	if err != nil {
		return err
	}
	d, err := c.caseData(ctx, s, cs, full)
	if err != nil {
		return err
	}
	if id := r.URL.Query().Get("reply"); id != "" && full {
		d.Reply = c.savedReply(s, cs, id)
		d.Count = sms.Measure(d.Reply)
	}
	if m := r.URL.Query().Get("msg"); slices.Contains([]string{"sent", "noted", "planned", "claimed"}, m) {
		d.Msg = "console.cases." + m
	}
	if full {
		// Opening a conversation is written in the audit log.
		c.audit(ctx, s, "case.view", cs.Alias)
	}
	c.render(w, r, s, "case", d)
	return nil
}

func (c *Console) caseData(ctx context.Context, s *session, cs *coach.CaseRecord, full bool) (*caseData, error) {
	p := &page{Lang: s.lang, texts: c.cfg.Texts}
	d := &caseData{Case: cs, Row: c.row(p, s, cs, c.now()), Full: full, Claimable: cs.State == coach.StateOpen}
	if !full {
		return d, nil
	}
	var err error
	if d.Entries, err = c.cfg.Coaches.Conversation(ctx, cs.Alias); err != nil {
		return nil, err
	}
	prof, err := c.st.Profile(ctx, cs.Person)
	if err != nil {
		return nil, err
	}
	d.Plan, d.Notes = c.keptOf(prof)
	d.Goals, d.Services = strings.Join(d.Plan.Goals, "\n"), strings.Join(d.Plan.Services, "\n")
	cat := c.cfg.Content.Catalog
	lang := prof["lang"]
	if lang == "" || !cat.Has(lang) {
		lang = cat.Default()
	}
	d.PersonLang = cat.Raw(lang, "lang.name")
	d.TZ = prof["tz"]
	loc := bot.Location(prof["tz"], c.cfg.TZ)
	if d.TZ == "" {
		d.TZ = loc.String()
	}
	d.Quiet = c.cfg.Quiet.On && c.cfg.Quiet.Next(c.now(), loc).After(c.now())
	d.Channel = prof["ch"]
	d.FollowUp = prof[bot.FieldLongFollowUp] != ""
	for _, id := range cat.IDs(cat.Default()) {
		if strings.HasPrefix(id, "reply.") {
			label := cat.Raw(s.contentLang(cat.Default(), cat.Has), id)
			if len([]rune(label)) > 60 {
				label = string([]rune(label)[:60]) + "…"
			}
			d.Replies = append(d.Replies, choice{Value: id, Label: label})
		}
	}
	slices.SortFunc(d.Replies, func(a, b choice) int { return strings.Compare(a.Value, b.Value) })
	accts, err := c.st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range accts {
		if !a.Disabled && a.Name != cs.Account && (a.Role == RoleCoach || a.Role == RoleSupervisor) {
			d.Coaches = append(d.Coaches, a.Name)
		}
	}
	for _, o := range coach.Outcomes {
		d.Outcomes = append(d.Outcomes, choice{Value: o, Label: p.T("console.outcome." + o)})
	}
	for _, k := range referralServices {
		d.Resources = append(d.Resources, choice{Value: k, Label: p.T("console.resource." + k)})
	}
	for _, st := range bot.ReferralStatuses {
		d.Statuses = append(d.Statuses, choice{Value: st, Label: p.T("console.referral." + st)})
	}
	return d, nil
}

// keptOf opens the plan and notes kept sealed in a profile.
func (c *Console) keptOf(prof map[string]string) (bot.Plan, []bot.Note) {
	var plan bot.Plan
	var notes []bot.Note
	for k, v := range prof {
		if v == "" {
			continue
		}
		switch {
		case k == bot.FieldPlan:
			if b, err := c.cfg.Sealer.Open([]byte(v)); err == nil {
				_ = json.Unmarshal(b, &plan)
			}
		case strings.HasPrefix(k, bot.FieldNotePrefix):
			if b, err := c.cfg.Sealer.Open([]byte(v)); err == nil {
				var n bot.Note
				if json.Unmarshal(b, &n) == nil {
					notes = append(notes, n)
				}
			}
		}
	}
	slices.SortFunc(notes, func(a, b bot.Note) int { return a.At.Compare(b.At) })
	return plan, notes
}

// savedReply renders a saved reply in the person's language.
func (c *Console) savedReply(s *session, cs *coach.CaseRecord, id string) string {
	if !strings.HasPrefix(id, "reply.") {
		return ""
	}
	cat := c.cfg.Content.Catalog
	lang := cs.Lang
	if !cat.Has(lang) {
		lang = cat.Default()
	}
	data := c.cfg.Content.DataFor(lang)
	data["coach"] = s.acct.Name
	text, err := cat.Text(lang, id, data)
	if err != nil {
		return ""
	}
	return text
}

// referralServices are the resource pack entries a plan may refer to.
var referralServices = []string{"hotline", "inspectorate", "legal_aid", "union"}

// MaxReply is the longest message a coach may send at once.
const MaxReply = 1600

func (c *Console) caseAction(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return refuse(http.StatusBadRequest, "console.error.bad_input")
	}
	alias := strings.ToUpper(r.PathValue("alias"))
	action := r.PathValue("action")
	back := "/console/cases/" + alias
	if action == "claim" {
		// Whoever pressed first, here or in Telegram, has it; a late press
		// is told so.
		won, err := c.cfg.Coaches.ClaimFor(ctx, alias, s.acct.Name, s.acct.Name)
		if errors.Is(err, coach.ErrNoCase) {
			return refuse(http.StatusNotFound, "console.error.not_found")
		}
		if err != nil {
			return err
		}
		if !won {
			http.Redirect(w, r, "/console/cases?msg=taken", http.StatusSeeOther)
			return nil
		}
		c.audit(ctx, s, "case.claim", alias)
		http.Redirect(w, r, back+"?msg=claimed", http.StatusSeeOther)
		return nil
	}
	cs, full, err := c.loadCase(ctx, s, alias)
	if err != nil {
		return err
	}
	if !full {
		return refuse(http.StatusForbidden, "console.cases.not_yours")
	}
	super := s.supervises()
	switch action {
	case "count":
		p := &page{Lang: s.lang, texts: c.cfg.Texts}
		return writeJSON(w, map[string]string{"count": countText(p, sms.Measure(strings.TrimSpace(r.PostFormValue("text"))))})
	case "reply":
		text := strings.TrimSpace(bot.CleanText(r.PostFormValue("text"), 0))
		if text == "" || len([]rune(text)) > MaxReply {
			return refuse(http.StatusBadRequest, "console.cases.reply_bad")
		}
		err = c.cfg.Coaches.ReplyFrom(ctx, alias, s.acct.Name, s.acct.Name, text, super)
		if err == nil {
			c.audit(ctx, s, "case.reply", alias)
			back += "?msg=sent#reply"
		}
	case "note":
		text := strings.TrimSpace(bot.CleanText(r.PostFormValue("text"), 0))
		if text == "" || len([]rune(text)) > 4000 {
			return refuse(http.StatusBadRequest, "console.error.bad_input")
		}
		err = c.addNote(ctx, s, cs.Person, text)
		if err == nil {
			c.audit(ctx, s, "case.note", alias)
			back += "?msg=noted#notes"
		}
	case "plan":
		plan := bot.Plan{Goals: lines(r.PostFormValue("goals")), Services: lines(r.PostFormValue("services")), Updated: c.now()}
		services, statuses, dates := r.PostForm["ref_service"], r.PostForm["ref_status"], r.PostForm["ref_date"]
		for i, sv := range services {
			if sv == "" || i >= len(statuses) || !slices.Contains(referralServices, sv) || !slices.Contains(bot.ReferralStatuses, statuses[i]) {
				continue
			}
			ref := bot.Referral{Service: sv, Status: statuses[i], Date: c.now().In(c.cfg.TZ).Format(time.DateOnly)}
			if i < len(dates) {
				if _, err := time.Parse(time.DateOnly, dates[i]); err == nil {
					ref.Date = dates[i]
				}
			}
			plan.Referrals = append(plan.Referrals, ref)
		}
		b, _ := json.Marshal(plan)
		err = c.st.SetProfile(ctx, cs.Person, map[string]string{bot.FieldPlan: string(c.cfg.Sealer.Seal(b))})
		if err == nil {
			c.audit(ctx, s, "case.plan", alias)
			back += "?msg=planned#plan"
		}
	case "followup":
		on := r.PostFormValue("on") == "1"
		reason := "off"
		if on {
			reason = "console"
		}
		_, err = c.cfg.Figures.SetFollowUp(ctx, cs.Person, reason)
		if err == nil {
			c.audit(ctx, s, "case.followup_"+map[bool]string{true: "on", false: "off"}[on], alias)
			back += "#plan"
		}
	case "handover":
		to := r.PostFormValue("to")
		acct, aerr := c.st.GetAccount(ctx, to)
		if aerr != nil || acct.Disabled || (acct.Role != RoleCoach && acct.Role != RoleSupervisor) {
			return refuse(http.StatusBadRequest, "console.cases.handover_bad")
		}
		if note := strings.TrimSpace(r.PostFormValue("note")); note != "" {
			if err := c.addNote(ctx, s, cs.Person, note); err != nil {
				return err
			}
		}
		err = c.cfg.Coaches.HandOverTo(ctx, alias, s.acct.Name, to, to, super)
		if err == nil {
			c.audit(ctx, s, "case.handover", alias+" → "+to)
			back = "/console/cases?msg=handed"
		}
	case "close":
		outcome := r.PostFormValue("outcome")
		prof, perr := c.st.Profile(ctx, cs.Person)
		if perr != nil {
			return perr
		}
		var closed *coach.CaseRecord
		closed, err = c.cfg.Coaches.CloseWith(ctx, alias, s.acct.Name, outcome, super)
		if errors.Is(err, coach.ErrBadOutcome) {
			return refuse(http.StatusBadRequest, "console.cases.outcome_bad")
		}
		if err == nil {
			c.audit(ctx, s, "case.close."+outcome, alias)
			// The outcome feeds the programme's figures, counted under the
			// person's language, channel, gender and age as every answer.
			c.cfg.Figures.CountAnswers(ctx, closed.Person, prof, flows.Effect{Kind: flows.EffectRecord, Topic: "case_outcome", Value: outcome})
			back = "/console/cases?msg=closed"
		}
	default:
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	if errors.Is(err, coach.ErrNotHolder) || errors.Is(err, coach.ErrNoCase) {
		return refuse(http.StatusConflict, "console.cases.not_yours")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// addNote keeps a coach's note about person, sealed in their profile, one
// field per note (two coaches writing at once both keep theirs).
func (c *Console) addNote(ctx context.Context, s *session, person, text string) error {
	now := c.now()
	b, _ := json.Marshal(bot.Note{At: now, Coach: s.acct.Name, Text: text})
	field := fmt.Sprintf("%s%d", bot.FieldNotePrefix, now.UnixNano())
	return c.st.SetProfile(ctx, person, map[string]string{field: string(c.cfg.Sealer.Seal(b))})
}

// lines splits a text area into its non-empty lines.
func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
