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
)

// Counters kept per ISO week, per language, channel, gender and age group.
// They never name a person.
const (
	mActive      = "active"   // people who answered a check-in that week
	mSent        = "sent"     // check-ins sent
	mAnswered    = "answered" // check-ins answered
	mMissed      = "missed"   // check-ins missed
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
	unknownValue = "unknown"
)

// ErrBadQuery wraps a figures query that cannot be answered as asked (an
// unknown dimension, dates the wrong way round): the caller's mistake.
var ErrBadQuery = errors.New("bad figures query")

// MinCell is the smallest number of people a published cell may stand
// for; smaller cells show as "<5".
const MinCell = 5

// Dimensions Stats can break figures down by.
var Dimensions = []string{"week", "lang", "channel", "gender", "age"}

func weekOf(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

func (s *Scheduler) statsKey(week string) string { return s.st.Key("ci", "stats", week) }

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
	key := s.statsKey(weekOf(s.now()))
	d := dims(p)
	pipe := s.st.Redis().Pipeline()
	for m, n := range counts {
		if n != 0 {
			pipe.HIncrBy(ctx, key, m+"|"+d, n)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Warn("check-in figures not counted", "event", "checkin_count_failed", "error", err)
	}
}

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
}

// shareGroups are columns that add up to a whole within a row: one hidden
// cell among them could be worked out from the others.
var shareGroups = [][]string{{"working_pct", "training_pct", "looking_pct", "not_looking_pct"}}

// Table is a figures table: one row per group, then the total.
type Table struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	By      []string `json:"by"`
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

// MarshalJSON writes the number, or "<5".
func (c Cell) MarshalJSON() ([]byte, error) {
	if c.Suppressed {
		return json.Marshal(fmt.Sprintf("<%d", MinCell))
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
// broken down by the given Dimensions, with small cells suppressed.
func (s *Scheduler) Stats(ctx context.Context, from, to time.Time, by []string) (*Table, error) {
	for _, d := range by {
		if !slices.Contains(Dimensions, d) {
			return nil, fmt.Errorf("%w: unknown dimension %q (use %s)", ErrBadQuery, d, strings.Join(Dimensions, ", "))
		}
	}
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
	pipe := s.st.Redis().Pipeline()
	for _, w := range weeks {
		pipe.HGetAll(ctx, s.statsKey(w))
	}
	res, err := pipe.Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("read figures: %w", err)
	}
	groups := map[string]map[string]int64{}
	groupDims := map[string]map[string]string{}
	total := map[string]int64{}
	for i, r := range res {
		h, _ := r.(interface{ Val() map[string]string })
		if h == nil {
			continue
		}
		for field, v := range h.Val() {
			parts := strings.Split(field, "|")
			n, err := strconv.ParseInt(v, 10, 64)
			if len(parts) != 5 || err != nil {
				continue
			}
			vals := map[string]string{"week": weeks[i], "lang": parts[1], "channel": parts[2], "gender": parts[3], "age": parts[4]}
			g := map[string]string{}
			var key []string
			for _, d := range by {
				g[d] = vals[d]
				key = append(key, vals[d])
			}
			k := strings.Join(key, "|")
			if groups[k] == nil {
				groups[k] = map[string]int64{}
				groupDims[k] = g
			}
			groups[k][parts[0]] += n
			total[parts[0]] += n
		}
	}
	t := &Table{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), By: append([]string{}, by...)}
	for _, c := range columns {
		t.Columns = append(t.Columns, c.name)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(by) > 0 {
		for _, k := range keys {
			t.Rows = append(t.Rows, Row{Group: groupDims[k], Figures: figures(groups[k])})
		}
	}
	t.Rows = append(t.Rows, Row{Group: map[string]string{}, Total: true, Figures: figures(total)})
	suppress(t)
	return t, nil
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

// suppress adds complementary suppression: where a total could give back
// a single hidden cell by subtraction (the other groups of a column, or
// the other shares of a row), the smallest visible cell beside it is
// hidden too, until no hidden cell stands alone.
func suppress(t *Table) {
	hide := func(r *Row, col string) {
		c := r.Figures[col]
		c.Suppressed = true
		r.Figures[col] = c
	}
	// lone hides the smallest visible cell when exactly one of cells is
	// hidden; it reports whether it hid one.
	lone := func(cells []*Row, cols []string) bool {
		hidden, best := 0, -1
		for i := range cells {
			c := cells[i].Figures[cols[i]]
			if c.Suppressed {
				hidden++
			} else if best < 0 || c.base < cells[best].Figures[cols[best]].base {
				best = i
			}
		}
		if hidden == 1 && best >= 0 {
			hide(cells[best], cols[best])
			return true
		}
		return false
	}
	groups := t.Rows[:len(t.Rows)-1]
	total := &t.Rows[len(t.Rows)-1]
	for changed := true; changed; {
		changed = false
		for _, col := range t.Columns {
			if len(groups) < 2 || total.Figures[col].Suppressed {
				continue
			}
			rows := make([]*Row, len(groups))
			cols := make([]string, len(groups))
			for i := range groups {
				rows[i], cols[i] = &groups[i], col
			}
			changed = lone(rows, cols) || changed
		}
		for i := range t.Rows {
			for _, g := range shareGroups {
				rows := make([]*Row, len(g))
				for j := range rows {
					rows[j] = &t.Rows[i]
				}
				changed = lone(rows, g) || changed
			}
		}
	}
}

// Write prints the table for a terminal.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := append(append([]string{}, t.By...), t.Columns...)
	if len(t.By) == 0 {
		head = append([]string{""}, t.Columns...)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range t.Rows {
		var cells []string
		if r.Total {
			cells = append(cells, "total")
			for range max(len(t.By)-1, 0) {
				cells = append(cells, "")
			}
		} else {
			for _, d := range t.By {
				cells = append(cells, r.Group[d])
			}
		}
		for _, c := range t.Columns {
			cells = append(cells, r.Figures[c].String())
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "Weeks %s to %s. Cells for fewer than %d people show <%d, and so does one more beside them where a total would give them away.\n", t.From, t.To, MinCell, MinCell)
	return err
}

// period reads --from and --to (YYYY-MM-DD); by default the last 12 weeks.
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

func splitBy(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Main runs `lifeline stats [--from DATE] [--to DATE] [--by gender,age]
// [--json]`: it prints the check-in figures and returns the exit code
// (2 for bad arguments, 1 when Redis fails).
func Main(ctx context.Context, rt *bot.Runtime, cfg Config, args []string, stdout, stderr io.Writer) int {
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
	t, err := s.Stats(ctx, start, end, splitBy(*by))
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
		t, err := s.Stats(r.Context(), start, end, splitBy(q.Get("by")))
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
func (s *Scheduler) Register(mux *http.ServeMux, token string) {
	mux.Handle("GET /api/stats", bot.StaffOnly(token, s.log, s.StatsHandler()))
}
