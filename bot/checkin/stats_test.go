package checkin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/flows"
)

// seed adds counters for people of one group, in the clock's week.
func seed(e *env, gender, age string, counts map[string]int64) {
	e.s.count(context.Background(), map[string]string{"lang": "en", "ch": "telegram", fGender: gender, fAge: age}, counts)
}

func cells(tab *Table, col string) []string {
	var out []string
	for _, r := range tab.Rows {
		out = append(out, r.Figures[col].String())
	}
	return out
}

// TestSmallCellsSuppressed: cells under 5 people show "<5", and where the
// total would give a hidden cell back by subtraction, one more is hidden.
func TestSmallCellsSuppressed(t *testing.T) {
	e := newEnv(t, nil, Config{})
	seed(e, "woman", "25_34", map[string]int64{mActive: 10, mAnswered: 10, mSent: 12})
	seed(e, "man", "25_34", map[string]int64{mActive: 8, mAnswered: 2, mSent: 9})
	seed(e, "other", "35_49", map[string]int64{mActive: 3, mAnswered: 3, mSent: 20})
	now := e.clk.Now()
	tab, err := e.s.Stats(context.Background(), now.AddDate(0, 0, -7), now, []string{"gender"})
	if err != nil {
		t.Fatal(err)
	}
	// Rows: man, other, woman, total.
	tests := map[string][]string{
		// "other" has 3: hidden; the total 21 would give it back from 10
		// and 8, so the smaller of those (man, 8) is hidden too.
		"active": {"<5", "<5", "10", "21"},
		// man has 2, other 3: two hidden already, nothing more to hide.
		"answered": {"<5", "<5", "10", "15"},
		// Nothing small: all shown.
		"sent": {"9", "20", "12", "41"},
	}
	for col, want := range tests {
		if got := cells(tab, col); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: got %v, want %v", col, got, want)
		}
	}
	// No visible total minus visible cells ever equals one hidden cell.
	for _, col := range tab.Columns {
		hidden := 0
		for _, r := range tab.Rows[:len(tab.Rows)-1] {
			if r.Figures[col].Suppressed {
				hidden++
			}
		}
		if hidden == 1 && !tab.Rows[len(tab.Rows)-1].Figures[col].Suppressed {
			t.Errorf("%s: a lone hidden cell can be worked out from the total", col)
		}
	}
}

// TestShareGroupSuppressed: work-status shares add up to 100%, so one
// hidden share gets a companion.
func TestShareGroupSuppressed(t *testing.T) {
	e := newEnv(t, nil, Config{})
	seed(e, "woman", "25_34", map[string]int64{mWork + "working": 20, mWork + "training": 9, mWork + "looking": 6, mWork + "not_looking": 2})
	now := e.clk.Now()
	tab, err := e.s.Stats(context.Background(), now, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := tab.Rows[0].Figures
	got := []string{f["working_pct"].String(), f["training_pct"].String(), f["looking_pct"].String(), f["not_looking_pct"].String()}
	if want := []string{"54%", "24%", "<5", "<5"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("shares %v, want %v", got, want)
	}
}

func runMain(t *testing.T, e *env, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), e.rt, Config{Clock: e.clk.Now, Log: e.s.log}, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestStatsCommand(t *testing.T) {
	e := newEnv(t, nil, Config{})
	t.Run("empty store", func(t *testing.T) {
		code, out, errs := runMain(t, e)
		if code != 0 || errs != "" {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.Contains(lines[0], "active") || !strings.HasPrefix(strings.TrimSpace(lines[1]), "total") || strings.Count(lines[1], "<5") != len(columns) {
			t.Fatalf("empty table:\n%s", out)
		}
	})
	t.Run("seeded", func(t *testing.T) {
		for range 6 {
			seed(e, "woman", "25_34", map[string]int64{mActive: 1, mSent: 1, mAnswered: 1, mMoodN: 1, mMoodSum: 4})
		}
		for range 7 {
			seed(e, "man", "35_49", map[string]int64{mActive: 1, mSent: 2, mAnswered: 1, mMoodN: 1, mMoodSum: 3})
		}
		week := e.clk.Now().Format(time.DateOnly)
		code, out, errs := runMain(t, e, "--from", week, "--to", week, "--by", "gender,age")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		for _, want := range []string{"gender", "age", "man", "35_49", "woman", "25_34", "total"} {
			if !strings.Contains(out, want) {
				t.Errorf("table lacks %q:\n%s", want, out)
			}
		}
		var womanRow string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "woman") {
				womanRow = l
			}
		}
		if f := strings.Fields(womanRow); len(f) < 6 || f[2] != "6" || f[3] != "6" || f[4] != "6" || f[5] != "4.0" {
			t.Errorf("woman row %q: want active 6, sent 6, answered 6, wellbeing 4.0", womanRow)
		}
		code, out, _ = runMain(t, e, "--by", "gender", "--json")
		var tab Table
		if code != 0 || json.Unmarshal([]byte(out), &tab) != nil || len(tab.Rows) != 3 {
			t.Fatalf("--json: exit %d:\n%s", code, out)
		}
		if code, _, errs := runMain(t, e, "--by", "name"); code != 2 || !strings.Contains(errs, "unknown dimension") {
			t.Errorf("an unknown dimension: exit %d, %q", code, errs)
		}
		if code, _, _ := runMain(t, e, "--from", "yesterday"); code != 2 {
			t.Errorf("a bad date: exit %d", code)
		}
	})
}

func TestStatsAPI(t *testing.T) {
	e := newEnv(t, nil, Config{})
	for range 5 {
		seed(e, "woman", "under25", map[string]int64{mSent: 1})
	}
	mux := http.NewServeMux()
	e.s.Register(mux, bot.StaticToken("s3cret"))
	get := func(auth, query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/stats"+query, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}
	if w := get("", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := get("Bearer wrong", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", w.Code)
	}
	if w := get("Bearer s3cret", "?by=shoe"); w.Code != http.StatusBadRequest {
		t.Fatalf("bad dimension: %d", w.Code)
	}
	w := get("Bearer s3cret", "?by=gender")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got struct {
		Rows []struct {
			Group   map[string]string `json:"group"`
			Total   bool              `json:"total"`
			Figures map[string]any    `json:"figures"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 2 || got.Rows[0].Group["gender"] != "woman" || got.Rows[0].Figures["sent"] != 5.0 || got.Rows[0].Figures["active"] != "<5" || !got.Rows[1].Total {
		t.Fatalf("body: %s", w.Body)
	}
	if strings.Contains(w.Body.String(), "person") {
		t.Fatalf("figures name a person: %s", w.Body)
	}
}

// answer records n answers topic=value from a person of one group, through
// the same handler the runtime calls after a turn.
func answer(e *env, week time.Time, lang, gender, age, topic, value string, n int) {
	e.clk.Set(week)
	p := map[string]string{"lang": lang, "ch": "telegram", fGender: gender, fAge: age}
	for range n {
		e.s.CountAnswers(context.Background(), "person-id", p, flows.Effect{Kind: flows.EffectRecord, Topic: topic, Value: value})
	}
}

// section returns a table's section of recorded answers to topic.
func section(t *testing.T, tab *Table, topic string) Section {
	t.Helper()
	for _, s := range tab.Answers {
		if s.Topic == topic {
			return s
		}
	}
	t.Fatalf("no %s section in %+v", topic, tab.Answers)
	return Section{}
}

// rowsOf prints a section's column as "group=cell" lines, in row order.
func rowsOf(by []string, rows []Row, col string) string {
	var out []string
	for _, r := range rows {
		name := "total"
		if !r.Total {
			var g []string
			for _, d := range by {
				g = append(g, r.Group[d])
			}
			name = strings.Join(g, "/")
		}
		out = append(out, name+"="+r.Figures[col].String())
	}
	return strings.Join(out, " ")
}

// TestFiguresByGenderAndAge: lessons finished, counted when the effect
// happens from the person's profile, come out split by gender and age band
// (under-18 first); cells under 5 show "<5", and so do the cells that the
// other tables of the same period would give them away by: woman's
// under-18 count (3) is hidden in --by gender,age, so one more of her age
// bands is, or --by gender (woman 22) would give it back, and the under-18
// row of --by age (4) takes one more age band with it.
func TestFiguresByGenderAndAge(t *testing.T) {
	e := newEnv(t, nil, Config{})
	st := e.st
	now := e.clk.Now()
	for _, c := range []struct {
		gender, age string
		n           int
	}{
		{"man", "under18", 1}, {"man", "18_24", 9}, {"man", "25_34", 6},
		{"woman", "under18", 3}, {"woman", "18_24", 7}, {"woman", "25_34", 12},
	} {
		answer(e, now, "en", c.gender, c.age, "lesson_done", "documents", c.n)
		answer(e, now, "en", c.gender, c.age, "lesson_done", "wages", 10)
		seed(e, c.gender, c.age, map[string]int64{mActive: int64(c.n)})
	}
	// A setting is not a figure: recording a time zone counts nothing.
	e.s.CountAnswers(context.Background(), "person-id", map[string]string{fAge: "under18"}, flows.Effect{Kind: flows.EffectRecord, Topic: "profile.tz", Value: "Asia/Manila"})
	fields, err := st.Redis().HKeys(context.Background(), e.s.statsKey(weekOf(now))).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if strings.Contains(f, "person") || strings.Contains(f, "profile.") || strings.Contains(f, "Manila") {
			t.Errorf("counter field %q names a person or a setting", f)
		}
	}
	if !slices.Contains(fields, "rec:lesson_done=documents|en|telegram|woman|under18") {
		t.Errorf("no under-18 woman's counter among %v", fields)
	}

	tests := []struct {
		by               []string
		documents, wages string
		active           string
	}{
		{
			by:        []string{"gender", "age"},
			documents: "man/under18=<5 man/18_24=<5 man/25_34=6 woman/under18=<5 woman/18_24=<5 woman/25_34=12 total=38",
			wages:     "man/under18=10 man/18_24=10 man/25_34=10 woman/under18=10 woman/18_24=10 woman/25_34=10 total=60",
			active:    "man/under18=<5 man/18_24=<5 man/25_34=6 woman/under18=<5 woman/18_24=<5 woman/25_34=12 total=38",
		},
		{by: []string{"gender"}, documents: "man=16 woman=22 total=38", wages: "man=30 woman=30 total=60", active: "man=16 woman=22 total=38"},
		{by: []string{"age"}, documents: "under18=<5 18_24=<5 25_34=18 total=38", wages: "under18=20 18_24=20 25_34=20 total=60", active: "under18=<5 18_24=<5 25_34=18 total=38"},
		{by: nil, documents: "total=38", wages: "total=60", active: "total=38"},
	}
	for _, tc := range tests {
		tab, err := e.s.Stats(context.Background(), now, now, tc.by)
		if err != nil {
			t.Fatal(err)
		}
		sec := section(t, tab, "lesson_done")
		if sec.Title != "Lessons finished" || strings.Join(sec.Columns, ",") != "documents,wages" {
			t.Errorf("section %q with columns %v", sec.Title, sec.Columns)
		}
		if got := rowsOf(tc.by, sec.Rows, "documents"); got != tc.documents {
			t.Errorf("--by %v documents:\n got %s\nwant %s", tc.by, got, tc.documents)
		}
		if got := rowsOf(tc.by, sec.Rows, "wages"); got != tc.wages {
			t.Errorf("--by %v wages:\n got %s\nwant %s", tc.by, got, tc.wages)
		}
		if got := rowsOf(tc.by, tab.Rows, "active"); got != tc.active {
			t.Errorf("--by %v active:\n got %s\nwant %s", tc.by, got, tc.active)
		}
	}

	code, out, errs := runMain(t, e, "--from", now.Format(time.DateOnly), "--to", now.Format(time.DateOnly), "--by", "gender,age")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	_, lessons, ok := strings.Cut(out, "Lessons finished (lesson_done)\n")
	if !ok {
		t.Fatalf("no lessons section:\n%s", out)
	}
	want := [][]string{
		{"gender", "age", "documents", "wages"},
		{"man", "under18", "<5", "10"},
		{"man", "18_24", "<5", "10"},
		{"man", "25_34", "6", "10"},
		{"woman", "under18", "<5", "10"},
		{"woman", "18_24", "<5", "10"},
		{"woman", "25_34", "12", "10"},
		{"total", "38", "60"},
	}
	lines := strings.Split(lessons, "\n")
	for i, w := range want {
		if i >= len(lines) || strings.Join(strings.Fields(lines[i]), " ") != strings.Join(w, " ") {
			t.Fatalf("lessons table line %d: want %v in:\n%s", i, w, out)
		}
	}
	day := now.Format(time.DateOnly)
	code, out, _ = runMain(t, e, "--from", day, "--to", day, "--by", "age", "--json")
	var tab Table
	if code != 0 || json.Unmarshal([]byte(out), &tab) != nil || len(tab.Answers) != 1 {
		t.Fatalf("--json: exit %d:\n%s", code, out)
	}
	if r := tab.Answers[0].Rows[0]; r.Group["age"] != "under18" || !r.Figures["documents"].Suppressed || r.Figures["wages"].Value != 20 || !strings.Contains(out, `"documents": "<5"`) {
		t.Errorf("--json under-18 row %+v in:\n%s", r, out)
	}
	for _, by := range []string{"gender", "age"} {
		if code, out, errs := runMain(t, e, "--by", by); code != 0 || !strings.Contains(out, "Lessons finished (lesson_done)") || strings.Fields(out)[0] != by {
			t.Errorf("--by %s: exit %d %s\n%s", by, code, errs, out)
		}
	}
}

// TestNoHiddenFigureWorkedOut: with counts spread over weeks, languages,
// genders and age bands, every table of the period is read, as someone
// trying to undo the suppression would; a hidden figure must not follow
// from the figures shown and the sums that tie the tables together (each
// row of one breakdown is the sum of its rows in a finer one), solved as a
// system of linear equations.
func TestNoHiddenFigureWorkedOut(t *testing.T) {
	e := newEnv(t, nil, Config{})
	start := e.clk.Now()
	rng := rand.New(rand.NewPCG(3, 8))
	for w := range 2 {
		for _, lang := range []string{"en", "ne"} {
			for _, g := range []string{"woman", "man", "other"} {
				for _, a := range []string{"under18", "18_24", "25_34", "50plus"} {
					if n := rng.IntN(16) - 3; n > 0 {
						answer(e, start.AddDate(0, 0, 7*w), lang, g, a, "selfcheck_sign", "threats", n)
					}
				}
			}
		}
	}
	end := start.AddDate(0, 0, 7)
	// Every breakdown by a subset of the dimensions.
	type key = figureKey
	value := map[key]Cell{}
	hidden, shown := 0, 0
	for mask := range 1 << len(Dimensions) {
		var by []string
		for d, name := range Dimensions {
			if mask&(1<<d) != 0 {
				by = append(by, name)
			}
		}
		tab, err := e.s.Stats(context.Background(), start, end, by)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range section(t, tab, "selfcheck_sign").Rows {
			if r.Total != (mask == 0) {
				continue
			}
			c := r.Figures["threats"]
			value[key{mask, coordsOf(r.Group)}] = c
			if c.Suppressed {
				hidden++
			} else {
				shown++
			}
		}
	}
	if hidden == 0 || shown == 0 {
		t.Fatalf("%d hidden and %d shown figures: the data do not test anything", hidden, shown)
	}
	// Unknowns: the hidden figures. Equations: each figure is the sum of
	// its rows one dimension finer (rows not shown are zero).
	unknown := map[key]int{}
	var keys []key
	for k, c := range value {
		if c.Suppressed {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	for i, k := range keys {
		unknown[k] = i
	}
	var system [][]float64 // coefficients of the unknowns, then the constant
	for k := range value {
		for d := range Dimensions {
			if k.mask&(1<<d) != 0 {
				continue
			}
			eq := make([]float64, len(keys)+1)
			term := func(k key, sign float64) {
				if i, ok := unknown[k]; ok {
					eq[i] += sign
				} else {
					eq[len(keys)] -= sign * value[k].Value
				}
			}
			term(k, 1)
			for f := range value {
				if f.mask == k.mask|1<<d && parentOf(f, d) == k.coords {
					term(f, -1)
				}
			}
			system = append(system, eq)
		}
	}
	for _, i := range determined(system, len(keys)) {
		t.Errorf("hidden figure %v can be worked out from the others", keys[i])
	}
	t.Logf("%d figures shown, %d hidden; none of the hidden can be worked out", shown, hidden)
}

// coordsOf writes a row's group in the order of Dimensions.
func coordsOf(g map[string]string) string {
	var out []string
	for _, d := range Dimensions {
		out = append(out, g[d])
	}
	return strings.Join(out, "|")
}

// figureKey names one figure: its breakdown (a mask of Dimensions) and
// its values, as coordsOf writes them.
type figureKey struct {
	mask   int
	coords string
}

// parentOf is the coords of f without dimension d.
func parentOf(f figureKey, d int) string {
	parts := strings.Split(f.coords, "|")
	parts[d] = ""
	return strings.Join(parts, "|")
}

// determined solves a linear system (rows of coefficients and a constant)
// by Gauss-Jordan elimination and returns the unknowns it fixes.
func determined(system [][]float64, n int) []int {
	const eps = 1e-9
	row := 0
	for col := 0; col < n && row < len(system); col++ {
		p := -1
		for r := row; r < len(system); r++ {
			if math.Abs(system[r][col]) > eps && (p < 0 || math.Abs(system[r][col]) > math.Abs(system[p][col])) {
				p = r
			}
		}
		if p < 0 {
			continue
		}
		system[row], system[p] = system[p], system[row]
		pv := system[row][col]
		for j := range system[row] {
			system[row][j] /= pv
		}
		for r := range system {
			if r != row && math.Abs(system[r][col]) > eps {
				f := system[r][col]
				for j := range system[r] {
					system[r][j] -= f * system[row][j]
				}
			}
		}
		row++
	}
	var out []int
	for _, eq := range system {
		nz := -1
		for j := range n {
			if math.Abs(eq[j]) > eps {
				if nz >= 0 {
					nz = -2
					break
				}
				nz = j
			}
		}
		if nz >= 0 {
			out = append(out, nz)
		}
	}
	return out
}

// TestUnder18ThroughTheFlow: a person agreeing to check-ins in Spanish is
// offered the under-18 band in their language and picks it; the lesson
// they then finish is counted, when it is recorded, under their gender and
// age band, and under nothing that names them.
func TestUnder18ThroughTheFlow(t *testing.T) {
	st := bottest.NewStore(t)
	h := newHarness(t, st)
	c := bottest.Content(t)
	digit := func(flow, node, id string) string { return bottest.Digit(t, flow, node, id) }
	es := fmt.Sprint(slices.Index(c.Def.Languages, "es") + 1)
	const addr, other = "+3460000001", "+4470000003"
	h.Say(addr, "hola", es, "1", bottest.Digit(t, flows.FlowMenu, "", "checkin"), "1", digit("checkins", "gender", "woman"))
	lines := h.Lines()
	if ask := lines[len(lines)-1]; !strings.Contains(ask, "[Menos de 18 | De 18 a 24 | De 25 a 34 | De 35 a 49 | 50 o más | Prefiero no decirlo]") {
		t.Fatalf("the age question in Spanish: %s", ask)
	}
	h.Say(addr, digit("checkins", "age", "under18"), digit("checkins", "tz", "default"))
	h.Say(addr, bottest.Digit(t, flows.FlowMenu, "", "rights"), digit("rights", "", "documents"), "1", "1", digit("lesson_documents", "quiz", "mine"))
	h.Say(other, "hi", "1", "1", bottest.Digit(t, flows.FlowMenu, "", "checkin"), "1", digit("checkins", "gender", "man"), digit("checkins", "age", "18_24"), digit("checkins", "tz", "default"))

	ctx := context.Background()
	person := h.RT.PersonID("test", addr)
	for p, want := range map[string]string{person: "under18", h.RT.PersonID("test", other): "18_24"} {
		if prof, _ := st.Profile(ctx, p); prof[fAge] != want {
			t.Errorf("age kept as %q, want %q", prof[fAge], want)
		}
	}
	counters, err := st.Redis().HGetAll(ctx, h.s.statsKey(weekOf(h.clk.Now()))).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n := counters["rec:lesson_done=documents|es|test|woman|under18"]; n != "1" {
		t.Errorf("lesson counted %q times under es, woman, under18: %v", n, counters)
	}
	for f := range counters {
		if strings.Contains(f, person) || strings.Contains(f, addr) || strings.Contains(f, "profile.") {
			t.Errorf("counter %q names the person or their answers about themselves", f)
		}
	}
	tab, err := h.s.Stats(ctx, h.clk.Now(), h.clk.Now(), []string{"age"})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsOf([]string{"age"}, section(t, tab, "lesson_done").Rows, "documents"); got != "under18=<5 unknown=<5 total=<5" {
		t.Errorf("lessons by age: %s", got)
	}
}
