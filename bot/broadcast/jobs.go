package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// Job is a decent job opening staff pass on to the people who asked for
// alerts about its sector and location.
type Job struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Employer string `json:"employer"`
	// Sector and Location are ids from the programme's lists (JobLists).
	Sector    string   `json:"sector"`
	Location  string   `json:"location"`
	Pay       string   `json:"pay"`
	Hours     string   `json:"hours"`
	Contact   string   `json:"contact"`
	Languages []string `json:"languages,omitempty"`
	// ExpiresAt ends the job: it is never sent after.
	ExpiresAt time.Time `json:"expires_at"`
	// The fair-recruitment checks (ILO General principles and operational
	// guidelines for fair recruitment): a job failing one is refused.
	NoFees          bool      `json:"no_fees"`
	WrittenContract bool      `json:"written_contract"`
	EmployerVetted  bool      `json:"employer_vetted"`
	PostedAt        time.Time `json:"posted_at,omitzero"`
	// Alert is the id of the broadcast that sends the instant alerts.
	Alert   string `json:"alert_id,omitempty"`
	Expired bool   `json:"expired,omitempty"`
}

// Code is the job's id as a person types it on SMS.
func (j *Job) Code() string { return strings.ToUpper(j.ID) }

// JobLists are the sectors and locations people choose from: the choices
// of the "sector" and "location" nodes of the jobs flow, which subscribe to
// the topics job_sector.<id> and job_location.<id>. Editing that flow
// (flows/defs/jobs.yaml, or its override in CONTENT_DIR) edits the lists.
type JobLists struct {
	Sectors   []string `json:"sectors"`
	Locations []string `json:"locations"`
	// Labels maps "sector.<id>" and "location.<id>" to the message id of
	// its label.
	Labels map[string]string `json:"-"`
}

// Topic prefixes and fixed topics of job subscriptions.
const (
	topicJobs     = "jobs"
	topicDigest   = "jobs_digest"
	sectorPrefix  = "job_sector."
	placePrefix   = "job_location."
	anyChoice     = "any"
	jobsFlow      = "jobs"
	reminderTopic = "reminders_off"
)

// Lists returns the programme's job lists from the jobs flow.
func Lists(def *flows.Definition) JobLists {
	l := JobLists{Labels: map[string]string{}}
	f := def.Flows[jobsFlow]
	if f == nil {
		return l
	}
	for _, node := range []string{"sector", "location"} {
		n := f.Nodes[node]
		if n == nil {
			continue
		}
		for _, c := range n.Choices {
			for _, e := range c.Effects {
				if e.Kind != flows.EffectSubscribe {
					continue
				}
				if v, ok := strings.CutPrefix(e.Topic, sectorPrefix); ok && v != anyChoice && !slices.Contains(l.Sectors, v) {
					l.Sectors = append(l.Sectors, v)
					l.Labels["sector."+v] = c.Label
				}
				if v, ok := strings.CutPrefix(e.Topic, placePrefix); ok && v != anyChoice && !slices.Contains(l.Locations, v) {
					l.Locations = append(l.Locations, v)
					l.Labels["location."+v] = c.Label
				}
			}
		}
	}
	return l
}

// maxField is the longest text accepted in a job field.
const maxField = 300

// postJob checks and stores a job, and starts its instant alerts.
func (s *Service) postJob(ctx context.Context, j Job) (Job, error) {
	if err := s.checkJob(&j); err != nil {
		return Job{}, err
	}
	now := s.now()
	j.PostedAt = now
	j.Expired = false
	for range 5 {
		j.ID = newID(6)
		j.Alert = "job-" + j.ID
		raw, _ := json.Marshal(j)
		ok, err := s.st.AddJob(ctx, j.ID, raw)
		if err != nil {
			return Job{}, err
		}
		if ok {
			break
		}
		j.ID = ""
	}
	if j.ID == "" {
		return Job{}, errors.New("no free job id")
	}
	if err := s.st.ListJob(ctx, j.ID, now, j.ExpiresAt.Add(keepFinished)); err != nil {
		return Job{}, err
	}
	if _, err := s.create(ctx, j.Alert, plan{Kind: KindJob, Job: j.ID}, s.st.PeopleKey()); err != nil {
		return Job{}, err
	}
	s.log.Info("job posted", "event", "job_posted", "job", j.ID, "sector", j.Sector, "location", j.Location)
	return j, nil
}

func (s *Service) checkJob(j *Job) error {
	var failed []string
	if !j.NoFees {
		failed = append(failed, "no_fees")
	}
	if !j.WrittenContract {
		failed = append(failed, "written_contract")
	}
	if !j.EmployerVetted {
		failed = append(failed, "employer_vetted")
	}
	if len(failed) > 0 {
		return &InvalidError{Failed: failed, Reason: "job refused: it fails the fair-recruitment checks " + strings.Join(failed, ", ") +
			". Lifeline only passes on jobs that charge workers no fees, give a written contract and come from a vetted employer."}
	}
	fields := []struct {
		name string
		v    *string
	}{{"title", &j.Title}, {"employer", &j.Employer}, {"sector", &j.Sector}, {"location", &j.Location},
		{"pay", &j.Pay}, {"hours", &j.Hours}, {"contact", &j.Contact}}
	for _, f := range fields {
		*f.v = strings.Join(strings.Fields(bot.CleanText(*f.v, 0)), " ")
		if *f.v == "" {
			return invalid("%s is required", f.name)
		}
		if utf8.RuneCountInString(*f.v) > maxField {
			return invalid("%s is longer than %d characters", f.name, maxField)
		}
	}
	lists := Lists(s.rt.Content().Def)
	if !slices.Contains(lists.Sectors, j.Sector) {
		return invalid("sector %q is not in the programme's list %v", j.Sector, lists.Sectors)
	}
	if !slices.Contains(lists.Locations, j.Location) {
		return invalid("location %q is not in the programme's list %v", j.Location, lists.Locations)
	}
	for _, l := range j.Languages {
		if l == "" || len(l) > 20 {
			return invalid("languages: %q is not a language tag", l)
		}
	}
	if j.ExpiresAt.IsZero() {
		return invalid("expires_at is required (RFC 3339)")
	}
	if !j.ExpiresAt.After(s.now()) {
		return invalid("expires_at is in the past")
	}
	return nil
}

// GetJob returns a job by id or code.
func (s *Service) GetJob(ctx context.Context, id string) (Job, error) {
	j, err := loadJob(ctx, s.st, strings.ToLower(id))
	if err != nil {
		return Job{}, err
	}
	if j == nil {
		return Job{}, ErrNotFound
	}
	j.Expired = !j.ExpiresAt.After(s.now())
	return *j, nil
}

func loadJob(ctx context.Context, st *store.Store, id string) (*Job, error) {
	if !validID(id) {
		return nil, nil
	}
	raw, err := st.Job(ctx, id)
	if err != nil || raw == nil {
		return nil, err
	}
	var j Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	return &j, nil
}

// ListJobs returns the jobs posted, newest first, expired ones marked.
func (s *Service) ListJobs(ctx context.Context) ([]Job, error) {
	ids, err := s.st.LatestJobs(ctx, 500)
	if err != nil {
		return nil, err
	}
	return found(ctx, ids, s.GetJob, func(id string) {
		// Expired away: the next listing tries again.
		if err := s.st.UnlistJob(ctx, id); err != nil {
			s.log.Warn("expired job left in the index", "event", "job_unlist_failed", "job", id, "error", err)
		}
	})
}

// deleteJob takes a job down: its alerts stop and interest in it is
// answered "no longer open".
func (s *Service) deleteJob(ctx context.Context, id string) error {
	id = strings.ToLower(id)
	if !validID(id) {
		return ErrNotFound
	}
	existed, err := s.st.DeleteJob(ctx, id)
	if err != nil {
		return err
	}
	if !existed {
		return ErrNotFound
	}
	if err := s.Cancel(ctx, "job-"+id); err != nil && !errors.Is(err, ErrState) && !errors.Is(err, ErrNotFound) {
		return err
	}
	s.log.Info("job deleted", "event", "job_deleted", "job", id)
	return nil
}

// work is what one round of sending needs besides the plan.
type work struct {
	*loaded
	job  *Job
	jobs []*Job // a digest's jobs, newest first
	// over: a job alert whose job is gone or expired.
	over bool
}

func (s *Service) work(ctx context.Context, l *loaded) (*work, error) {
	w := &work{loaded: l}
	now := s.now()
	switch l.Kind {
	case KindJob:
		j, err := loadJob(ctx, s.st, l.Job)
		if err != nil {
			return nil, err
		}
		w.job = j
		w.over = j == nil || !j.ExpiresAt.After(now)
	case KindDigest:
		ids, err := s.st.JobsSince(ctx, l.Since)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			j, err := loadJob(ctx, s.st, id)
			if err != nil {
				return nil, err
			}
			if j != nil && j.ExpiresAt.After(now) {
				w.jobs = append(w.jobs, j)
			}
		}
		w.over = len(w.jobs) == 0
	}
	return w, nil
}

// subscribed reports whether the profile asked for job alerts and whether
// as a weekly digest.
func subscribed(prof map[string]string) (alerts, digest bool) {
	return prof["sub."+topicJobs] == "1", prof["sub."+topicDigest] == "1"
}

// jobMatches reports whether j fits what the person chose. Someone who
// chose no sector (or location) at all, as before the lists existed, gets
// every one.
func jobMatches(j *Job, prof map[string]string) bool {
	return chose(prof, sectorPrefix, j.Sector) && chose(prof, placePrefix, j.Location)
}

func chose(prof map[string]string, prefix, v string) bool {
	if prof["sub."+prefix+v] == "1" || prof["sub."+prefix+anyChoice] == "1" {
		return true
	}
	for k, val := range prof {
		if val == "1" && strings.HasPrefix(k, "sub."+prefix) {
			return false
		}
	}
	return true
}

// decide says what a person gets from a broadcast: an outcome to record
// now (skipped, none) or the messages to send.
func (s *Service) decide(w *work, prof map[string]string) (string, []bot.Outbound) {
	if !reachable(prof) {
		return outSkipped, nil
	}
	lang := s.rt.Language(prof)
	if !w.Audience.matches(prof, lang) {
		return outNone, nil
	}
	now := s.now()
	switch w.Kind {
	case KindBroadcast:
		if w.MessageID != "" {
			return outSent, []bot.Outbound{{Text: s.rt.Render(lang, w.MessageID, nil)}}
		}
		text := w.Text[lang]
		if text == "" {
			text = w.Text[s.rt.Content().Catalog.Default()]
		}
		return outSent, []bot.Outbound{{Text: text}}
	case KindReminder:
		if prof["sub."+reminderTopic] == "1" {
			return outSkipped, nil
		}
		text := s.rt.Render(lang, w.MessageID, nil) + "\n\n" + s.rt.Render(lang, "reminders.footer", nil)
		return outSent, []bot.Outbound{{Text: text}}
	case KindJob:
		alerts, digest := subscribed(prof)
		if !alerts || digest || w.job == nil || !w.job.ExpiresAt.After(now) || !jobMatches(w.job, prof) {
			return outNone, nil
		}
		return outSent, []bot.Outbound{s.alert(w.job, lang, prof["ch"])}
	case KindDigest:
		alerts, digest := subscribed(prof)
		if !alerts || !digest {
			return outNone, nil
		}
		var mine []*Job
		for _, j := range w.jobs {
			if j.ExpiresAt.After(now) && jobMatches(j, prof) {
				mine = append(mine, j)
			}
		}
		if len(mine) == 0 {
			return outNone, nil
		}
		return outSent, []bot.Outbound{s.digest(mine, lang, prof["ch"])}
	}
	return outNone, nil
}

// jobData is the template data of a job, in lang. Staff's words are data,
// never template text, so they show as written.
func (s *Service) jobData(j *Job, lang string) map[string]string {
	lists := Lists(s.rt.Content().Def)
	label := func(kind, v string) string {
		if id := lists.Labels[kind+"."+v]; id != "" {
			return s.rt.Render(lang, id, nil)
		}
		return v
	}
	cat := s.rt.Content().Catalog
	var langs []string
	for _, l := range j.Languages {
		if name := cat.Raw(l, "lang.name"); name != "" {
			langs = append(langs, name)
		} else {
			langs = append(langs, l)
		}
	}
	languages := strings.Join(langs, ", ")
	if languages == "" {
		languages = s.rt.Render(lang, "jobs.languages_any", nil)
	}
	return map[string]string{
		"title": j.Title, "employer": j.Employer, "sector": label("sector", j.Sector),
		"location": label("location", j.Location), "pay": j.Pay, "hours": j.Hours, "contact": j.Contact,
		"languages": languages, "expires": j.ExpiresAt.UTC().Format("2006-01-02"), "code": j.Code(),
	}
}

// tips are the one-line fair-recruitment safety tips, one per alert.
var tips = []string{"jobs.tip.1", "jobs.tip.2", "jobs.tip.3", "jobs.tip.4"}

func tipFor(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return tips[h.Sum32()%uint32(len(tips))]
}

func (s *Service) buttons(ch string) bool { return slices.Contains(s.cfg.ButtonChannels, ch) }

// alert is one job's message: the job, a safety tip, and the way to say
// "I'm interested" (a button, or on SMS the COACH keyword and the code).
func (s *Service) alert(j *Job, lang, ch string) bot.Outbound {
	data := s.jobData(j, lang)
	text := s.rt.Render(lang, "jobs.alert", data) + "\n\n" + s.rt.Render(lang, tipFor(j.ID), nil)
	out := bot.Outbound{}
	if s.buttons(ch) {
		out.Options = []bot.OutOption{{ID: bot.ActionOption("job", j.ID), Label: s.rt.Render(lang, "jobs.interested", nil)}}
	} else {
		text += "\n" + s.rt.Render(lang, "jobs.interest_sms", data)
	}
	out.Text = text
	return out
}

// digestMax is the most jobs one digest lists.
const digestMax = 5

// digest is the weekly message: how many new jobs, up to digestMax of
// them, a tip, and the way to say "I'm interested".
func (s *Service) digest(jobs []*Job, lang, ch string) bot.Outbound {
	intro, err := s.rt.Content().Catalog.Plural(lang, "jobs.digest_intro", len(jobs), nil)
	if err != nil {
		s.log.Warn("message rendered with a problem", "event", "render_problem", "message_id", "jobs.digest_intro", "lang", lang, "error", err)
	}
	lines := []string{intro}
	out := bot.Outbound{}
	for i, j := range jobs[:min(len(jobs), digestMax)] {
		data := s.jobData(j, lang)
		data["n"] = strconv.Itoa(i + 1)
		lines = append(lines, s.rt.Render(lang, "jobs.digest_line", data))
		if s.buttons(ch) {
			out.Options = append(out.Options, bot.OutOption{ID: bot.ActionOption("job", j.ID),
				Label: s.rt.Render(lang, "jobs.interested_n", map[string]string{"n": strconv.Itoa(i + 1)})})
		}
	}
	if len(jobs) > digestMax {
		lines = append(lines, s.rt.Render(lang, "jobs.digest_more", nil))
	}
	lines = append(lines, "", s.rt.Render(lang, tipFor(jobs[0].ID), nil))
	if !s.buttons(ch) {
		lines = append(lines, s.rt.Render(lang, "jobs.digest_sms", nil))
	}
	out.Text = strings.Join(lines, "\n")
	return out
}

// Actions returns the runtime actions for job alerts, to put in
// runner.Config.Actions: "job" answers "I'm interested" by opening a
// low-priority case for the person's coach carrying the job (an escalate
// effect with reason job_interest and the job id as value), once per
// person and job; a job taken down or expired is answered as closed.
func Actions(st *store.Store, clock func() time.Time, log *slog.Logger) map[string]bot.Action {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return map[string]bot.Action{"job": func(person string, _ map[string]string, arg string) ([]flows.Output, []flows.Effect) {
		// An action runs inside the person's turn: keep the I/O short.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		id := strings.ToLower(arg)
		j, err := loadJob(ctx, st, id)
		if err != nil {
			log.Warn("job unreadable for interest", "event", "job_interest_failed", "person", person, "job", id, "error", err)
			return []flows.Output{{Msg: "jobs.interest_error"}}, nil
		}
		if j == nil || !j.ExpiresAt.After(clock()) {
			return []flows.Output{{Msg: "jobs.interest_closed"}}, nil
		}
		added, err := st.AddJobInterest(ctx, id, person, j.ExpiresAt.Add(30*24*time.Hour))
		if err != nil {
			log.Warn("job interest not recorded", "event", "job_interest_failed", "person", person, "job", id, "error", err)
			return []flows.Output{{Msg: "jobs.interest_error"}}, nil
		}
		if !added {
			return []flows.Output{{Msg: "jobs.interest_again"}}, nil
		}
		log.Info("job interest", "event", "job_interest", "person", person, "job", id)
		return []flows.Output{{Msg: "jobs.interest_sent"}},
			[]flows.Effect{{Kind: flows.EffectEscalate, Reason: "job_interest", Priority: flows.PriorityLow, Value: id}}
	}}
}

// MessageIDs are the message ids this package renders from Go (the flows'
// own are checked by lifeline check). Append them to
// content.RuntimeMessages so lifeline check covers them too.
var MessageIDs = []string{
	"jobs.alert", "jobs.languages_any", "jobs.tip.1", "jobs.tip.2", "jobs.tip.3", "jobs.tip.4",
	"jobs.interested", "jobs.interest_sms", "jobs.digest_intro", "jobs.digest_line", "jobs.digest_more",
	"jobs.interested_n", "jobs.digest_sms", "jobs.interest_sent", "jobs.interest_again",
	"jobs.interest_closed", "jobs.interest_error", "reminders.footer",
}
