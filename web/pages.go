package web

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/sms"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/web/chart"
)

// ---- Overview: the programme's figures (guidelines 3h) ----

// breakdowns are the overview's tables: each a way of grouping people.
var breakdowns = [][]string{{"channel"}, {"lang"}, {"gender", "age"}}

type figureTable struct {
	By      string
	Columns []string
	Rows    []figureRow
	Chart   template.HTML
}

type figureRow struct {
	Group string
	Cells []string
}

type overviewData struct {
	form
	From, To string
	Tables   []figureTable
	Answers  []figureTable
	CSV      string
}

func (c *Console) period(r *http.Request) (time.Time, time.Time, error) {
	q := r.URL.Query()
	from, to, err := checkin.Period(c.now().In(c.cfg.TZ), q.Get("from"), q.Get("to"))
	if err != nil {
		return from, to, refuse(http.StatusBadRequest, "console.error.bad_dates")
	}
	return from, to, nil
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	from, to, err := c.period(r)
	if err != nil {
		return err
	}
	p := &page{Lang: s.lang, texts: c.cfg.Texts}
	d := &overviewData{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)}
	d.CSV = "/console/figures.csv?from=" + d.From + "&to=" + d.To
	for i, by := range breakdowns {
		t, err := c.cfg.Figures.Stats(r.Context(), from, to, by)
		if err != nil {
			return err
		}
		d.Tables = append(d.Tables, c.figureTable(p, by, t.Columns, t.Rows, "active"))
		if i == 0 {
			for _, sec := range t.Answers {
				ft := c.figureTable(p, by, sec.Columns, sec.Rows, "")
				ft.By = sec.Title
				if ft.By == "" {
					ft.By = sec.Topic
				}
				d.Answers = append(d.Answers, ft)
			}
		}
	}
	c.render(w, r, s, "overview", d)
	return nil
}

// figureTable lays out one figures table, with a bar chart of the column
// chartCol (the first column when empty) by group.
func (c *Console) figureTable(p *page, by, columns []string, rows []checkin.Row, chartCol string) figureTable {
	ft := figureTable{}
	var labels []string
	for _, d := range by {
		labels = append(labels, p.T("console.figures.by."+d))
	}
	ft.By = strings.Join(labels, " × ")
	for _, col := range columns {
		ft.Columns = append(ft.Columns, c.columnLabel(p, col))
	}
	if chartCol == "" && len(columns) > 0 {
		chartCol = columns[0]
	}
	var bars []chart.Bar
	for _, row := range rows {
		fr := figureRow{Group: groupLabel(p, by, row)}
		for _, col := range columns {
			fr.Cells = append(fr.Cells, row.Figures[col].String())
		}
		ft.Rows = append(ft.Rows, fr)
		if !row.Total {
			cell := row.Figures[chartCol]
			bars = append(bars, chart.Bar{Label: fr.Group, Value: cell.Value, Suppressed: cell.Suppressed})
		}
	}
	title := ft.By + ": " + c.columnLabel(p, chartCol)
	ft.Chart = chart.Bars(title, bars, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }, "<"+strconv.Itoa(checkin.MinCell))
	return ft
}

func (c *Console) columnLabel(p *page, col string) string {
	id := "console.figures.col." + col
	if c.cfg.Texts.Raw(p.Lang, id) != "" {
		return p.T(id)
	}
	return col // an answer's value, named by the content
}

func groupLabel(p *page, by []string, row checkin.Row) string {
	if row.Total {
		return p.T("console.figures.total")
	}
	var parts []string
	for _, d := range by {
		v := row.Group[d]
		if v == "" {
			v = p.T("console.figures.unknown")
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, " · ")
}

// figuresCSV downloads the figures as `lifeline stats` computes them, one
// CSV per breakdown (by=channel, lang, gender,age…).
func (c *Console) figuresCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	from, to, err := c.period(r)
	if err != nil {
		return err
	}
	by := strings.Split(r.URL.Query().Get("by"), ",")
	if by[0] == "" {
		by = nil
	}
	t, err := c.cfg.Figures.Stats(r.Context(), from, to, by)
	if errors.Is(err, checkin.ErrBadQuery) {
		return refuse(http.StatusBadRequest, "console.error.bad_input")
	}
	if err != nil {
		return err
	}
	c.audit(r.Context(), s, "figures.download", strings.Join(by, ","))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="lifeline-figures.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(append(append(slices.Clone(by), "total"), t.Columns...))
	for _, row := range t.Rows {
		var rec []string
		for _, d := range by {
			rec = append(rec, row.Group[d])
		}
		rec = append(rec, strconv.FormatBool(row.Total))
		for _, col := range t.Columns {
			rec = append(rec, row.Figures[col].String())
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// ---- Broadcasts ----

type broadcastsData struct {
	form
	Languages   []composeLang
	Default     string
	DefaultName string
	Channels    []string
	List        []broadcast.Status
	Reach       *broadcast.Reach
	Preview     bool
	Confirm     bool // urgent: ask once more
	Missing     []string
	Quiet       string
}

type composeLang struct {
	Tag, Name, Text string
	Count           sms.Count
	Chosen          bool // in the audience filter
}

func (c *Console) composeData(r *http.Request) *broadcastsData {
	cat := c.cfg.Content.Catalog
	d := &broadcastsData{Default: cat.Default(), DefaultName: cat.Raw(cat.Default(), "lang.name"), Channels: []string{"telegram", "sms"}}
	if c.cfg.Quiet.On {
		q := c.cfg.Quiet
		d.Quiet = fmt.Sprintf("%02d:%02d–%02d:%02d", q.From/60, q.From%60, q.To/60, q.To%60)
	}
	for _, l := range cat.Languages() {
		d.Languages = append(d.Languages, composeLang{Tag: l, Name: cat.Raw(l, "lang.name")})
	}
	return d
}

func (c *Console) broadcasts(w http.ResponseWriter, r *http.Request, s *session) error {
	d := c.composeData(r)
	list, err := c.cfg.Broadcasts.List(r.Context(), 50)
	if err != nil {
		return err
	}
	d.List = list
	if r.URL.Query().Get("sent") != "" {
		d.Msg = "console.broadcasts.created"
	}
	c.render(w, r, s, "broadcasts", d)
	return nil
}

// readCompose reads the composer form into a Spec, filling d for showing
// the form again.
func (c *Console) readCompose(r *http.Request, d *broadcastsData) (broadcast.Spec, error) {
	spec := broadcast.Spec{Text: map[string]string{}}
	for i, l := range d.Languages {
		txt := strings.TrimSpace(r.PostFormValue("text." + l.Tag))
		d.Languages[i].Text = txt
		d.Languages[i].Count = sms.Measure(txt)
		if txt != "" {
			spec.Text[l.Tag] = txt
		} else {
			d.Missing = append(d.Missing, l.Name)
		}
		if slices.Contains(r.PostForm["lang"], l.Tag) {
			d.Languages[i].Chosen = true
			spec.Audience.Languages = append(spec.Audience.Languages, l.Tag)
		}
	}
	for _, ch := range r.PostForm["channel"] {
		if slices.Contains(d.Channels, ch) {
			spec.Audience.Channels = append(spec.Audience.Channels, ch)
		}
	}
	for t := range strings.FieldsFuncSeq(r.PostFormValue("tags"), func(r rune) bool { return r == ',' || r == ' ' }) {
		spec.Audience.Tags = append(spec.Audience.Tags, t)
	}
	spec.Urgent = r.PostFormValue("urgent") == "1"
	if at := r.PostFormValue("send_at"); at != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", at, c.cfg.TZ)
		if err != nil {
			return spec, refuse(http.StatusBadRequest, "console.error.bad_dates")
		}
		spec.SendAt = t
	}
	d.Values = map[string]string{"tags": r.PostFormValue("tags"), "send_at": r.PostFormValue("send_at"),
		"urgent": r.PostFormValue("urgent"), "rest": r.PostFormValue("rest")}
	for _, ch := range spec.Audience.Channels {
		d.Values["ch."+ch] = "1"
	}
	return spec, nil
}

// compose reads the composer's form and counts its audience.
func (c *Console) compose(w http.ResponseWriter, r *http.Request) (*broadcastsData, broadcast.Spec, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		return nil, broadcast.Spec{}, refuse(http.StatusBadRequest, "console.error.bad_input")
	}
	d := c.composeData(r)
	spec, err := c.readCompose(r, d)
	if err != nil {
		return nil, spec, err
	}
	reach, err := c.cfg.Broadcasts.Reach(r.Context(), spec.Audience)
	if err != nil {
		return nil, spec, err
	}
	d.Reach = &reach
	return d, spec, nil
}

// composeBroadcast previews or sends the composer's broadcast. It refuses
// a text missing in some languages unless "send the default language to
// the rest" is ticked, and asks once more for an urgent one (it ignores
// quiet hours).
func (c *Console) composeBroadcast(w http.ResponseWriter, r *http.Request, s *session) error {
	d, spec, err := c.compose(w, r)
	if err != nil {
		return err
	}
	show := func(status int) error {
		if list, err := c.cfg.Broadcasts.List(r.Context(), 50); err == nil {
			d.List = list
		}
		w.WriteHeader(status)
		c.render(w, r, s, "broadcasts", d)
		return nil
	}
	switch {
	case r.PostFormValue("do") != "send":
		d.Preview = true
		return show(http.StatusOK)
	case spec.Text[d.Default] == "":
		d.Err = "console.broadcasts.need_default"
		return show(http.StatusBadRequest)
	case len(d.Missing) > 0 && r.PostFormValue("rest") != "1":
		d.Err = "console.broadcasts.missing"
		return show(http.StatusBadRequest)
	case spec.Urgent && r.PostFormValue("confirm") != "1":
		d.Confirm = true
		return show(http.StatusOK)
	}
	id, err := c.cfg.Broadcasts.Create(r.Context(), spec)
	if inv, ok := errors.AsType[*broadcast.InvalidError](err); ok {
		c.log.Info("console broadcast refused", "event", "console_broadcast_invalid", "reason", inv.Reason)
		d.Err = "console.broadcasts.invalid"
		return show(http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/broadcasts?sent="+id+"#b-"+id, http.StatusSeeOther)
	return nil
}

// previewJSON answers the composer's live counts: each text's SMS
// encoding and segments, and the audience's reach.
func (c *Console) previewJSON(w http.ResponseWriter, r *http.Request, s *session) error {
	d, _, err := c.compose(w, r)
	if err != nil {
		return err
	}
	reach := *d.Reach
	p := &page{Lang: s.lang, texts: c.cfg.Texts}
	out := map[string]any{"reach": reach, "reach_text": p.T("console.broadcasts.reach", "people", reach.People, "skipped", reach.Unreachable)}
	counts := map[string]string{}
	for _, l := range d.Languages {
		counts[l.Tag] = countText(p, l.Count)
	}
	out["counts"] = counts
	return writeJSON(w, out)
}

func countText(p *page, n sms.Count) string {
	return p.T("console.broadcasts.count", "chars", n.Units, "encoding", n.Encoding, "segments", n.Segments)
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func (c *Console) progressJSON(w http.ResponseWriter, r *http.Request, s *session) error {
	st, err := c.cfg.Broadcasts.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, broadcast.ErrNotFound) {
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	if err != nil {
		return err
	}
	p := &page{Lang: s.lang, texts: c.cfg.Texts}
	return writeJSON(w, map[string]any{"status": st.Status, "status_text": p.T("console.status." + st.Status),
		"total": st.Total, "sent": st.Sent, "skipped": st.Skipped, "failed": st.Failed, "waiting": st.Waiting,
		"done": st.Sent + st.Skipped + st.Failed, "pct": pctOf(st),
		"nums_text": p.T("console.broadcasts.nums", "sent", st.Sent, "skipped", st.Skipped, "failed", st.Failed, "total", st.Total)})
}

func pctOf(st broadcast.Status) int64 {
	if st.Total <= 0 {
		if st.Status == broadcast.StatusDone {
			return 100
		}
		return 0
	}
	return (st.Sent + st.Skipped + st.Failed) * 100 / st.Total
}

func (c *Console) broadcastAction(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	var err error
	switch r.PathValue("action") {
	case "pause":
		err = c.cfg.Broadcasts.Pause(r.Context(), id)
	case "resume":
		err = c.cfg.Broadcasts.Resume(r.Context(), id)
	case "cancel":
		err = c.cfg.Broadcasts.Cancel(r.Context(), id)
	default:
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	if errors.Is(err, broadcast.ErrNotFound) {
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	if errors.Is(err, broadcast.ErrState) {
		return refuse(http.StatusConflict, "console.broadcasts.conflict")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/broadcasts#b-"+id, http.StatusSeeOther)
	return nil
}

// ---- Rights reminders ----

type remindersData struct {
	form
	R      broadcast.Reminders
	Next   string
	Rounds []string
}

func (c *Console) reminders(w http.ResponseWriter, r *http.Request, s *session) error {
	rem, err := c.cfg.Broadcasts.RemindersStatus(r.Context())
	if err != nil {
		return err
	}
	d := &remindersData{R: rem}
	if !rem.NextAt.IsZero() {
		d.Next = rem.NextAt.In(c.cfg.TZ).Format("2006-01-02 15:04 MST")
	}
	cat := c.cfg.Content.Catalog
	for i := 1; i <= rem.Count; i++ {
		d.Rounds = append(d.Rounds, cat.Raw(s.contentLang(cat.Default(), cat.Has), "reminder."+strconv.Itoa(i)))
	}
	c.render(w, r, s, "reminders", d)
	return nil
}

// contentLang is the survivors' content language closest to the console
// language (the content default otherwise).
func (s *session) contentLang(def string, has func(string) bool) string {
	if has(s.lang) {
		return s.lang
	}
	return def
}

func (c *Console) setReminders(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	var err error
	if r.PostFormValue("on") == "1" {
		_, err = c.cfg.Broadcasts.StartReminders(r.Context(), r.PostFormValue("every"), broadcast.Audience{}, time.Time{})
	} else {
		err = c.cfg.Broadcasts.StopReminders(r.Context())
	}
	if _, ok := errors.AsType[*broadcast.InvalidError](err); ok {
		return refuse(http.StatusBadRequest, "console.error.bad_input")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/reminders", http.StatusSeeOther)
	return nil
}

// ---- Jobs ----

type jobsData struct {
	form
	Jobs               []broadcast.Job
	Reach              map[string]broadcast.JobReach
	Sectors, Locations []choice
}

type choice struct{ Value, Label string }

func (c *Console) jobsData(r *http.Request, s *session) (*jobsData, error) {
	jobs, err := c.cfg.Broadcasts.ListJobs(r.Context())
	if err != nil {
		return nil, err
	}
	reach, err := c.cfg.Broadcasts.JobReaches(r.Context(), jobs)
	if err != nil {
		return nil, err
	}
	d := &jobsData{Jobs: jobs, Reach: reach}
	cat := c.cfg.Content.Catalog
	lang := s.contentLang(cat.Default(), cat.Has)
	lists := broadcast.Lists(c.cfg.Content.Def)
	label := func(key, v string) choice {
		l, err := cat.Text(lang, lists.Labels[key], c.cfg.Content.DataFor(lang))
		if err != nil || l == "" {
			l = v
		}
		return choice{Value: v, Label: l}
	}
	for _, v := range lists.Sectors {
		d.Sectors = append(d.Sectors, label("sector."+v, v))
	}
	for _, v := range lists.Locations {
		d.Locations = append(d.Locations, label("location."+v, v))
	}
	return d, nil
}

func (c *Console) jobs(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.jobsData(r, s)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("posted") != "" {
		d.Msg = "console.jobs.posted"
	}
	c.render(w, r, s, "jobs", d)
	return nil
}

func (c *Console) postJob(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return refuse(http.StatusBadRequest, "console.error.bad_input")
	}
	f := r.PostFormValue
	j := broadcast.Job{Title: f("title"), Employer: f("employer"), Sector: f("sector"), Location: f("location"),
		Pay: f("pay"), Hours: f("hours"), Contact: f("contact"), Languages: r.PostForm["job_lang"],
		NoFees: f("no_fees") == "1", WrittenContract: f("written_contract") == "1", EmployerVetted: f("employer_vetted") == "1"}
	if e := f("expires"); e != "" {
		t, err := time.ParseInLocation(time.DateOnly, e, c.cfg.TZ)
		if err != nil {
			return refuse(http.StatusBadRequest, "console.error.bad_dates")
		}
		j.ExpiresAt = t.Add(24*time.Hour - time.Second)
	}
	posted, err := c.cfg.Broadcasts.PostJob(r.Context(), j)
	if inv, ok := errors.AsType[*broadcast.InvalidError](err); ok {
		d, err := c.jobsData(r, s)
		if err != nil {
			return err
		}
		d.Err = "console.jobs.invalid"
		d.Values = map[string]string{"reason": inv.Reason, "title": j.Title, "employer": j.Employer, "pay": j.Pay,
			"hours": j.Hours, "contact": j.Contact, "expires": f("expires")}
		w.WriteHeader(http.StatusBadRequest)
		c.render(w, r, s, "jobs", d)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/jobs?posted="+posted.ID, http.StatusSeeOther)
	return nil
}

func (c *Console) deleteJob(w http.ResponseWriter, r *http.Request, s *session) error {
	err := c.cfg.Broadcasts.DeleteJob(r.Context(), r.PathValue("id"))
	if errors.Is(err, broadcast.ErrNotFound) {
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/jobs", http.StatusSeeOther)
	return nil
}

// ---- Content ----

type contentData struct {
	form
	Flows   []flowRow
	Locales []localeRow
}

type flowRow struct {
	ID, Title string
	Lesson    bool
	Nodes     int
}

type localeRow struct {
	Tag, Name         string
	Done, Total       int
	Pct               int
	Produced, Reviewd string
}

func (c *Console) contentPage(w http.ResponseWriter, r *http.Request, s *session) error {
	cat := c.cfg.Content.Catalog
	lang := s.contentLang(cat.Default(), cat.Has)
	d := &contentData{}
	for id, f := range c.cfg.Content.Def.Flows {
		title := id
		if f.Title != "" {
			if t, err := cat.Text(lang, f.Title, c.cfg.Content.DataFor(lang)); err == nil {
				title = t
			}
		}
		d.Flows = append(d.Flows, flowRow{ID: id, Title: title, Lesson: strings.HasPrefix(id, "lesson_"), Nodes: len(f.Nodes)})
	}
	slices.SortFunc(d.Flows, func(a, b flowRow) int { return strings.Compare(a.ID, b.ID) })
	en := cat.IDs(cat.Default())
	for _, l := range cat.Languages() {
		have := cat.IDs(l)
		n := 0
		for _, id := range en {
			if slices.Contains(have, id) && strings.TrimSpace(cat.Raw(l, id)) != "" {
				n++
			}
		}
		row := localeRow{Tag: l, Name: cat.Raw(l, "lang.name"), Done: n, Total: len(en),
			Produced: cat.Raw(l, "meta.produced"), Reviewd: cat.Raw(l, "meta.reviewed")}
		if len(en) > 0 {
			row.Pct = n * 100 / len(en)
		}
		d.Locales = append(d.Locales, row)
	}
	c.render(w, r, s, "content", d)
	return nil
}

type lessonData struct {
	form
	ID, Title, Lang string
	Languages       []composeLang
	Lines           []line
}

type line struct {
	Bot     bool
	Text    string
	Options []string
}

// lessonPage shows a flow as a transcript in any language: the engine
// runs it for a person who taps the first option at each step.
func (c *Console) lessonPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ct := c.cfg.Content
	id := r.PathValue("id")
	f, ok := ct.Def.Flows[id]
	if !ok {
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	lang := r.URL.Query().Get("lang")
	if !ct.Catalog.Has(lang) {
		lang = s.contentLang(ct.Catalog.Default(), ct.Catalog.Has)
	}
	d := &lessonData{ID: id, Title: id, Lang: lang}
	if f.Title != "" {
		d.Title = ct.Catalog.Raw(lang, f.Title)
	}
	for _, l := range ct.Catalog.Languages() {
		d.Languages = append(d.Languages, composeLang{Tag: l, Name: ct.Catalog.Raw(l, "lang.name"), Chosen: l == lang})
	}
	sess := flows.Session{Fields: map[string]string{"lang": lang, "consent": "yes"}}
	in := flows.Input{Flow: id}
	now := c.now()
	for range 24 {
		next, outs, _ := flows.Step(ct.Def, sess, in, now)
		for _, o := range outs {
			data := ct.DataFor(lang)
			for k, v := range o.Data {
				data[k] = v
			}
			txt, _ := ct.Catalog.Text(lang, o.Msg, data)
			ln := line{Bot: true, Text: txt}
			for _, op := range o.Options {
				l := lang
				if op.Lang != "" {
					l = op.Lang
				}
				label, _ := ct.Catalog.Text(l, op.Label, nil)
				ln.Options = append(ln.Options, label)
			}
			d.Lines = append(d.Lines, ln)
		}
		if next.Flow != id || len(next.Options) == 0 {
			break
		}
		// Tap the first option, as a reader going through the lesson.
		choice := next.Options[0]
		d.Lines = append(d.Lines, line{Text: "[" + choice + "]"})
		sess, in = next, flows.Input{Choice: choice, Prompt: next.Prompt}
		now = now.Add(time.Minute)
	}
	c.render(w, r, s, "lesson", d)
	return nil
}

// ---- Audit log ----

type auditData struct {
	form
	Entries []store.AuditEntry
	Account string
	Action  string
	From    string
	To      string
	CSV     string
}

// auditLimit bounds how many of the latest entries the page searches.
const auditLimit = 5000

func (c *Console) auditEntries(r *http.Request) (*auditData, error) {
	q := r.URL.Query()
	d := &auditData{Account: strings.TrimSpace(q.Get("account")), Action: strings.TrimSpace(q.Get("action")), From: q.Get("from"), To: q.Get("to")}
	var from, to time.Time
	var err error
	if d.From != "" {
		if from, err = time.ParseInLocation(time.DateOnly, d.From, c.cfg.TZ); err != nil {
			return nil, refuse(http.StatusBadRequest, "console.error.bad_dates")
		}
	}
	if d.To != "" {
		if to, err = time.ParseInLocation(time.DateOnly, d.To, c.cfg.TZ); err != nil {
			return nil, refuse(http.StatusBadRequest, "console.error.bad_dates")
		}
		to = to.AddDate(0, 0, 1)
	}
	all, err := c.st.AuditRecent(r.Context(), auditLimit)
	if err != nil {
		return nil, err
	}
	for _, e := range all {
		_, name, _ := strings.Cut(e.Actor, ":")
		if d.Account != "" && name != d.Account && e.Actor != d.Account {
			continue
		}
		if d.Action != "" && !strings.HasPrefix(e.Action, d.Action) {
			continue
		}
		if !from.IsZero() && e.At.Before(from) || !to.IsZero() && !e.At.Before(to) {
			continue
		}
		d.Entries = append(d.Entries, e)
	}
	d.CSV = "/console/audit.csv?" + r.URL.RawQuery
	return d, nil
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.auditEntries(r)
	if err != nil {
		return err
	}
	if len(d.Entries) > 500 {
		d.Entries = d.Entries[:500]
	}
	c.render(w, r, s, "audit", d)
	return nil
}

func (c *Console) auditCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.auditEntries(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	c.audit(r.Context(), s, "audit.download", r.URL.RawQuery)
	w.Header().Set("Content-Disposition", `attachment; filename="lifeline-audit.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at", "actor", "action", "target"})
	for _, e := range d.Entries {
		_ = cw.Write([]string{e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, csvSafe(e.Target)})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ---- Accounts (admin) ----

type accountsData struct {
	form
	Accounts []store.Account
	Roles    []string
	Link     string
	LinkFor  string
}

func (c *Console) accounts(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.accountsData(r)
	if err != nil {
		return err
	}
	c.render(w, r, s, "accounts", d)
	return nil
}

func (c *Console) accountsData(r *http.Request) (*accountsData, error) {
	list, err := c.st.Accounts(r.Context())
	if err != nil {
		return nil, err
	}
	return &accountsData{Accounts: list, Roles: Roles}, nil
}

// signInLink is the address a one-time token opens, on the host the
// admin is using.
func signInLink(r *http.Request, token string) string {
	scheme := "https"
	if localhost(r) {
		scheme = "http"
	}
	return scheme + "://" + r.Host + "/console/welcome?t=" + token
}

func (c *Console) addAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name, role := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("role")
	token, err := c.acc.Add(r.Context(), name, role)
	d, derr := c.accountsData(r)
	if derr != nil {
		return derr
	}
	switch {
	case errors.Is(err, ErrBadName), errors.Is(err, ErrBadRole):
		d.Err = "console.accounts.bad_name"
	case errors.Is(err, store.ErrAccountExists):
		d.Err = "console.accounts.exists"
	case err != nil:
		return err
	default:
		c.audit(r.Context(), s, "account.create", name+" ("+role+")")
		d.Link, d.LinkFor = signInLink(r, token), name
		d.Msg = "console.accounts.created"
	}
	if d.Err != "" {
		w.WriteHeader(http.StatusBadRequest)
	}
	c.render(w, r, s, "accounts", d)
	return nil
}

func (c *Console) accountAdmin(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	name, action := r.PathValue("name"), r.PathValue("action")
	if _, err := c.st.GetAccount(ctx, name); errors.Is(err, store.ErrNoAccount) {
		return refuse(http.StatusNotFound, "console.error.not_found")
	} else if err != nil {
		return err
	}
	var err error
	var token string
	switch action {
	case "disable":
		if name == s.acct.Name {
			return refuse(http.StatusBadRequest, "console.accounts.not_yourself")
		}
		err = c.acc.Disable(ctx, name)
	case "enable":
		err = c.acc.Enable(ctx, name)
	case "unlock":
		err = c.acc.Unlock(ctx, name)
	case "reset":
		token, err = c.acc.Reset(ctx, name)
	case "remove-2fa":
		err = c.acc.RemoveTOTP(ctx, name)
	default:
		return refuse(http.StatusNotFound, "console.error.not_found")
	}
	if err != nil {
		return err
	}
	c.audit(ctx, s, "account."+action, name)
	if token != "" {
		d, err := c.accountsData(r)
		if err != nil {
			return err
		}
		d.Link, d.LinkFor, d.Msg = signInLink(r, token), name, "console.accounts.reset_done"
		c.render(w, r, s, "accounts", d)
		return nil
	}
	http.Redirect(w, r, "/console/accounts", http.StatusSeeOther)
	return nil
}
