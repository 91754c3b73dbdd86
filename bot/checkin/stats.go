package checkin

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows"
)

// Counters kept per ISO week, per language, channel, gender and age group.
// They never name a person.
const (
	mActive      = "active"   // people who answered a check-in that week
	mSent        = "sent"     // check-ins sent
	mAnswered    = "answered" // check-ins answered
	mMissed      = "missed"   // check-ins missed
	mUnreachable = "unreach"  // check-ins not sent: the person was unreachable
	mMoodN       = "mood_n"   // wellbeing answers
	mMoodSum     = "mood_sum" // their sum (1–5 each)
	mWork        = "work_"    // + working, training, looking, not_looking
	mFirstWork   = "first_work"
	mWeeksN      = "weeks_n"   // first "working" answers with a known first contact
	mWeeksSum    = "weeks_sum" // weeks from first contact to them
	mDropOptOut  = "drop_optout"
	mDropSilent  = "drop_silent"
	mStill3N     = "still3_n" // people looked at 3 months after first working
	mStill3Yes   = "still3_yes"
	mStill6N     = "still6_n"
	mStill6Yes   = "still6_yes"
	mAnswer      = "rec:" // + topic=value: a recorded answer (CountAnswers)
	unknownValue = "unknown"
)

// ErrBadQuery wraps a figures query that cannot be answered as asked (an
// unknown dimension, dates the wrong way round): the caller's mistake.
var ErrBadQuery = errors.New("bad figures query")

// MinCell is the smallest count a published cell may show (people, or
// answers); smaller cells show as "<5".
const MinCell = 5

// Dimensions Stats can break figures down by.
var Dimensions = []string{"week", "lang", "channel", "gender", "age"}

func weekOf(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

func (s *Scheduler) statsKey(week string) string { return s.st.CheckinStatsKey(week) }

// dims are a person's figure dimensions: language, channel, gender, age.
func dims(p map[string]string) string {
	v := func(k string) string {
		if p[k] == "" {
			return unknownValue
		}
		return strings.ReplaceAll(p[k], "|", "_")
	}
	return v("lang") + "|" + v("ch") + "|" + v(fGender) + "|" + v(fAge)
}

// count adds to this week's counters for the person's dimensions.
func (s *Scheduler) count(ctx context.Context, p map[string]string, counts map[string]int64) {
	if len(counts) == 0 {
		return
	}
	d := dims(p)
	fields := make(map[string]int64, len(counts))
	for m, n := range counts {
		fields[m+"|"+d] = n
	}
	if err := s.st.CountCheckins(ctx, weekOf(s.now()), fields); err != nil {
		s.log.Warn("check-in figures not counted", "event", "checkin_count_failed", "error", err)
	}
}

// uncounted are recorded topics that CountAnswers leaves out: who the
// person is (the breakdown itself), their settings, and answers the
// check-in figures count already (wellbeing_mean, the work shares).
var uncounted = map[string]bool{
	"profile.gender": true, "profile.age": true, "profile.tz": true,
	"checkin.time": true, "checkin.pause": true,
	"checkin.mood": true, "checkin.work": true,
}

// answerTitles name the sections of recorded answers, in the order they
// are printed; a topic not listed here follows them under its own name.
var answerTitles = []struct{ topic, title string }{
	{"onboarded", "Agreed to the privacy notice"},
	{"lesson_done", "Lessons finished"},
	{"selfcheck_sign", "Self-check: signs answered yes"},
	{"checkin.problem", "Check-ins: problems at work"},
	{"checkin.contact", "Check-ins: asked a coach to write"},
	{"case_outcome", "Cases closed, by outcome"},
	{"case_helped", "After a case: did the coach help"},
}

// CountAnswers is a bot.EffectHandler for the figures: each recorded
// answer (a lesson finished, a self-check sign, a check-in problem, case
// feedback: any "record" effect of the flows but those in uncounted) adds
// one to this week's counter for the person's language, channel, gender
// and age band, as the profile had them before the turn. The counter
// names neither the person nor anything they wrote.
func (s *Scheduler) CountAnswers(ctx context.Context, _ string, profile map[string]string, e flows.Effect) {
	if e.Kind != flows.EffectRecord || e.Topic == "" || uncounted[e.Topic] {
		return
	}
	clean := strings.NewReplacer("|", "_", "=", "_").Replace
	s.count(ctx, profile, map[string]int64{answerMetric(clean(e.Topic), clean(e.Value)): 1})
}

// answerMetric is the counter of one recorded answer.
func answerMetric(topic, value string) string { return mAnswer + topic + "=" + value }

// column is one published figure.
type column struct {
	name string
	kind string // count, mean or share
	num  string // the counter (count), sum (mean) or numerator (share)
	base string // the people count that decides suppression (mean, share)
	den  []string
}

var workDen = []string{mWork + "working", mWork + "training", mWork + "looking", mWork + "not_looking"}

var columns = []column{
	{name: "active", kind: "count", num: mActive},
	{name: "sent", kind: "count", num: mSent},
	{name: "answered", kind: "count", num: mAnswered},
	{name: "wellbeing_mean", kind: "mean", num: mMoodSum, base: mMoodN},
	{name: "working_pct", kind: "share", num: mWork + "working", den: workDen},
	{name: "training_pct", kind: "share", num: mWork + "training", den: workDen},
	{name: "looking_pct", kind: "share", num: mWork + "looking", den: workDen},
	{name: "not_looking_pct", kind: "share", num: mWork + "not_looking", den: workDen},
	{name: "first_working", kind: "count", num: mFirstWork},
	{name: "weeks_to_work_mean", kind: "mean", num: mWeeksSum, base: mWeeksN},
	{name: "still_working_3m_pct", kind: "share", num: mStill3Yes, den: []string{mStill3N}},
	{name: "still_working_6m_pct", kind: "share", num: mStill6Yes, den: []string{mStill6N}},
	{name: "dropouts_opted_out", kind: "count", num: mDropOptOut},
	{name: "dropouts_silent", kind: "count", num: mDropSilent},
	{name: "not_sent_unreachable", kind: "count", num: mUnreachable},
}

// shareGroups are columns that add up to a whole within a row: one hidden
// cell among them could be worked out from the others.
var shareGroups = [][]string{{"working_pct", "training_pct", "looking_pct", "not_looking_pct"}}

// Table is a figures table: the check-in figures, one row per group, then
// the total; then a section for each kind of recorded answer, with the
// same rows.
type Table struct {
	From    string    `json:"from"`
	To      string    `json:"to"`
	By      []string  `json:"by"`
	Columns []string  `json:"columns"`
	Rows    []Row     `json:"rows"`
	Answers []Section `json:"answers,omitempty"`
}

// Section counts one recorded topic's answers (Columns are its values),
// group by group as the check-in rows, then the total.
type Section struct {
	Topic   string   `json:"topic"`
	Title   string   `json:"title"`
	Columns []string `json:"columns"`
	Rows    []Row    `json:"rows"`
}

// Row is one group's figures (Group is empty on the total row).
type Row struct {
	Group   map[string]string `json:"group"`
	Total   bool              `json:"total,omitempty"`
	Figures map[string]Cell   `json:"figures"`
}

// Cell is one figure, or a suppressed one: fewer than MinCell people, or
// hidden so that it cannot be worked out from a total.
type Cell struct {
	Value      float64
	Suppressed bool
	base       int64 // people the cell stands for
	kind       string
}

// MarshalJSON writes the number, or "<5" (as such, not \u003c5).
func (c Cell) MarshalJSON() ([]byte, error) {
	if c.Suppressed {
		return []byte(strconv.Quote(fmt.Sprintf("<%d", MinCell))), nil
	}
	return json.Marshal(c.Value)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Cell) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*c = Cell{Value: x}
	case string:
		*c = Cell{Suppressed: true}
	default:
		return fmt.Errorf("figure %s is neither a number nor suppressed", b)
	}
	return nil
}

// String formats the cell for a terminal table.
func (c Cell) String() string {
	switch {
	case c.Suppressed:
		return fmt.Sprintf("<%d", MinCell)
	case c.kind == "mean":
		return strconv.FormatFloat(c.Value, 'f', 1, 64)
	case c.kind == "share":
		return strconv.FormatFloat(c.Value, 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(c.Value, 'f', 0, 64)
}

// Stats returns the figures of the ISO weeks from from to to (inclusive),
// broken down by the given Dimensions (by gender and age: guidelines 3h),
// with small cells suppressed in the same way whatever the breakdown (see
// suppress.go).
func (s *Scheduler) Stats(ctx context.Context, from, to time.Time, by []string) (*Table, error) {
	var uniq []string
	for _, d := range by {
		if !slices.Contains(Dimensions, d) {
			return nil, fmt.Errorf("%w: unknown dimension %q (use %s)", ErrBadQuery, d, strings.Join(Dimensions, ", "))
		}
		if !slices.Contains(uniq, d) {
			uniq = append(uniq, d)
		}
	}
	by = uniq
	if to.Before(from) {
		return nil, fmt.Errorf("%w: the end is before the start", ErrBadQuery)
	}
	var weeks []string
	for w := from.UTC(); ; w = w.AddDate(0, 0, 7) {
		if len(weeks) == 0 || weeks[len(weeks)-1] != weekOf(w) {
			weeks = append(weeks, weekOf(w))
		}
		if weekOf(w) == weekOf(to) || w.After(to) || len(weeks) > 60*53 {
			break
		}
	}
	res, err := s.st.CheckinFigures(ctx, weeks)
	if err != nil {
		return nil, err
	}
	fine := map[[nDims]string]map[string]int64{}
	for i, h := range res {
		for field, v := range h {
			parts := strings.Split(field, "|")
			n, err := strconv.ParseInt(v, 10, 64)
			if len(parts) != 5 || err != nil {
				continue
			}
			coords := [nDims]string{weeks[i], parts[1], parts[2], parts[3], parts[4]}
			if fine[coords] == nil {
				fine[coords] = map[string]int64{}
			}
			fine[coords][parts[0]] += n
		}
	}
	c := newCube(fine)
	total := c.nodes[0] // mask 0 sorts first
	sections := answerSections(total.counts)
	units := slices.Clone(shareGroups)
	for _, col := range columns {
		if !slices.ContainsFunc(shareGroups, func(g []string) bool { return slices.Contains(g, col.name) }) {
			units = append(units, []string{col.name})
		}
	}
	for _, sec := range sections {
		for _, v := range sec.Columns {
			units = append(units, []string{answerMetric(sec.Topic, v)})
		}
	}
	for _, n := range c.nodes {
		n.cells = figures(n.counts)
		for _, sec := range sections {
			for _, v := range sec.Columns {
				m := answerMetric(sec.Topic, v)
				n.cells[m] = Cell{Value: float64(n.counts[m]), base: n.counts[m], kind: "count", Suppressed: n.counts[m] < MinCell}
			}
		}
	}
	c.protect(units)

	t := &Table{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), By: append([]string{}, by...)}
	for _, col := range columns {
		t.Columns = append(t.Columns, col.name)
	}
	var rows []*node
	if len(by) > 0 {
		rows = c.at(by)
		slices.SortStableFunc(rows, func(a, b *node) int { return compareGroups(by, a.group(by), b.group(by)) })
	}
	rows = append(rows, total)
	row := func(n *node) Row {
		if n == total {
			return Row{Group: map[string]string{}, Total: true, Figures: map[string]Cell{}}
		}
		return Row{Group: n.group(by), Figures: map[string]Cell{}}
	}
	for _, n := range rows {
		r := row(n)
		for _, col := range t.Columns {
			r.Figures[col] = n.cells[col]
		}
		t.Rows = append(t.Rows, r)
	}
	for _, sec := range sections {
		for _, n := range rows {
			r := row(n)
			for _, v := range sec.Columns {
				r.Figures[v] = n.cells[answerMetric(sec.Topic, v)]
			}
			sec.Rows = append(sec.Rows, r)
		}
		t.Answers = append(t.Answers, sec)
	}
	return t, nil
}

// compareGroups orders rows by their dimensions in turn: age bands
// youngest first, everything else alphabetically, "unknown" last.
func compareGroups(by []string, a, b map[string]string) int {
	rank := func(d, v string) int {
		if v == unknownValue {
			return 1 << 20
		}
		if d == "age" {
			if i := slices.Index(ages, v); i >= 0 {
				return i
			}
			return len(ages)
		}
		return 0
	}
	for _, d := range by {
		if c := rank(d, a[d]) - rank(d, b[d]); c != 0 {
			return c
		}
		if c := strings.Compare(a[d], b[d]); c != 0 {
			return c
		}
	}
	return 0
}

// answerSections lists the recorded topics found in the counters, each
// with the values found, in answerTitles order and then by name.
func answerSections(total map[string]int64) []Section {
	values := map[string][]string{}
	for m := range total {
		if tv, ok := strings.CutPrefix(m, mAnswer); ok {
			if topic, value, ok := strings.Cut(tv, "="); ok {
				values[topic] = append(values[topic], value)
			}
		}
	}
	order := func(topic string) int {
		return slices.IndexFunc(answerTitles, func(a struct{ topic, title string }) bool { return a.topic == topic })
	}
	var out []Section
	for topic, vals := range values {
		slices.Sort(vals)
		sec := Section{Topic: topic, Title: topic, Columns: vals}
		if i := order(topic); i >= 0 {
			sec.Title = answerTitles[i].title
		}
		out = append(out, sec)
	}
	slices.SortFunc(out, func(a, b Section) int {
		ra, rb := order(a.Topic), order(b.Topic)
		if ra < 0 {
			ra = len(answerTitles)
		}
		if rb < 0 {
			rb = len(answerTitles)
		}
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Topic, b.Topic)
	})
	return out
}

// figures computes a row's cells from its counters.
func figures(m map[string]int64) map[string]Cell {
	out := map[string]Cell{}
	for _, c := range columns {
		cell := Cell{kind: c.kind}
		switch c.kind {
		case "count":
			cell.Value, cell.base = float64(m[c.num]), m[c.num]
		case "mean":
			cell.base = m[c.base]
			if cell.base > 0 {
				cell.Value = math.Round(float64(m[c.num])/float64(cell.base)*10) / 10
			}
		case "share":
			var den int64
			for _, d := range c.den {
				den += m[d]
			}
			cell.base = min(m[c.num], den)
			if den > 0 {
				cell.Value = math.Round(float64(m[c.num]) / float64(den) * 100)
			}
		}
		cell.Suppressed = cell.base < MinCell
		out[c.name] = cell
	}
	return out
}

// Write prints the table for a terminal: the check-in figures, then each
// section of recorded answers under its title.
func (t *Table) Write(w io.Writer) error {
	if err := writeRows(w, t.By, t.Columns, t.Rows); err != nil {
		return err
	}
	for _, sec := range t.Answers {
		if _, err := fmt.Fprintf(w, "\n%s (%s)\n", sec.Title, sec.Topic); err != nil {
			return err
		}
		if err := writeRows(w, t.By, sec.Columns, sec.Rows); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "Weeks %s to %s. Cells under %d show <%d, and so does one more wherever a total or another breakdown of these weeks would give a hidden one away.\n", t.From, t.To, MinCell, MinCell)
	if err == nil && len(t.Answers) > 0 {
		_, err = fmt.Fprintln(w, "Answers are counted each time they are given: a person who finishes a lesson twice counts twice.")
	}
	return err
}

// writeRows prints one table: a column per dimension of by, then one per
// figure.
func writeRows(w io.Writer, by, columns []string, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := append(append([]string{}, by...), columns...)
	if len(by) == 0 {
		head = append([]string{""}, columns...)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		var cells []string
		if r.Total {
			cells = append(cells, "total")
			for range max(len(by)-1, 0) {
				cells = append(cells, "")
			}
		} else {
			for _, d := range by {
				cells = append(cells, r.Group[d])
			}
		}
		for _, c := range columns {
			cells = append(cells, r.Figures[c].String())
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

// period reads --from and --to (YYYY-MM-DD); by default the last 12 weeks.
// Period reads a figures period as `lifeline stats` does: from and to are
// dates (YYYY-MM-DD, "" for the last 12 weeks up to now).
func Period(now time.Time, from, to string) (time.Time, time.Time, error) {
	return period(now, from, to)
}

func period(now time.Time, from, to string) (time.Time, time.Time, error) {
	end := now.UTC()
	if to != "" {
		t, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--to %q is not a date like 2026-03-31", to)
		}
		end = t
	}
	start := end.AddDate(0, 0, -7*11)
	if from != "" {
		t, err := time.Parse(time.DateOnly, from)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--from %q is not a date like 2026-01-01", from)
		}
		start = t
	}
	return start, end, nil
}

// Main runs `lifeline stats [--from DATE] [--to DATE] [--by gender,age]
// [--json]`: it prints the check-in figures and returns the exit code
// (2 for bad arguments, 1 when Redis fails).
func Main(ctx context.Context, rt *runner.Runtime, cfg Config, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "first day, YYYY-MM-DD (default: 12 weeks before --to)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: today)")
	by := fs.String("by", "", "break down by: "+strings.Join(Dimensions, ", ")+" (comma-separated)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if rt != nil {
		cfg.Runtime = rt
	}
	s := New(cfg)
	start, end, err := period(s.now(), *from, *to)
	if err != nil {
		fmt.Fprintln(stderr, "lifeline stats:", err)
		return 2
	}
	t, err := s.Stats(ctx, start, end, bot.SplitList(*by))
	if err != nil {
		fmt.Fprintln(stderr, "lifeline stats:", err)
		if errors.Is(err, ErrBadQuery) {
			return 2
		}
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(t)
	} else {
		err = t.Write(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "lifeline stats:", err)
		return 1
	}
	return 0
}

// StatsHandler answers GET /api/stats?from=&to=&by= with the figures as
// JSON. Wrap it in bot.StaffOnly (Register does).
func (s *Scheduler) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, end, err := period(s.now(), q.Get("from"), q.Get("to"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		t, err := s.Stats(r.Context(), start, end, bot.SplitList(q.Get("by")))
		if err != nil {
			if errors.Is(err, ErrBadQuery) {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.log.Error("figures not read", "event", "stats_failed", "error", err)
			http.Error(w, "figures unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(t)
	})
}

// Register serves GET /api/stats on mux for staff holding token (401
// without it; an empty token turns the API off).
func (s *Scheduler) Register(mux *http.ServeMux, gate bot.Gate) {
	mux.Handle("GET /api/stats", bot.StaffOnly(gate, s.log, s.StatsHandler()))
}
