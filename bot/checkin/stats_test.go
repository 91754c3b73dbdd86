package checkin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
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
	st := store.New(storetest.Shared(t), storetest.Namespace())
	e := newEnv(t, st, Config{})
	seed(e, "woman", "25_34", map[string]int64{mActive: 10, mAnswered: 10, mSent: 12})
	seed(e, "man", "25_34", map[string]int64{mActive: 8, mAnswered: 2, mSent: 9})
	seed(e, "other", "35_49", map[string]int64{mActive: 3, mAnswered: 3, mSent: 20})
	now := e.clk.now()
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
	st := store.New(storetest.Shared(t), storetest.Namespace())
	e := newEnv(t, st, Config{})
	seed(e, "woman", "25_34", map[string]int64{mWork + "working": 20, mWork + "training": 9, mWork + "looking": 6, mWork + "not_looking": 2})
	now := e.clk.now()
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
	code := Main(context.Background(), e.rt, Config{Clock: e.clk.now, Log: e.s.log}, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestStatsCommand(t *testing.T) {
	st := store.New(storetest.Shared(t), storetest.Namespace())
	e := newEnv(t, st, Config{})
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
		week := e.clk.now().Format(time.DateOnly)
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
	st := store.New(storetest.Shared(t), storetest.Namespace())
	e := newEnv(t, st, Config{})
	for range 5 {
		seed(e, "woman", "under25", map[string]int64{mSent: 1})
	}
	mux := http.NewServeMux()
	e.s.Register(mux, "s3cret")
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
