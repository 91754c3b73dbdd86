package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestStatsByGenderAndAge runs `lifeline serve` against a fake Bot API and
// a real Redis: a person agrees to check-ins as a woman under 18, then
// finishes a lesson; `lifeline stats --by gender,age` (and --by age) then
// count that lesson under her gender and age band, hidden as fewer than 5.
func TestStatsByGenderAndAge(t *testing.T) {
	fake, srv, env, _ := serveTelegram(t)
	j := journey{t, fake, 5550002}
	step, press := j.step, j.press
	j.welcome()
	step("check-ins offer", press("Check-ins"), "check in with you")
	step("gender", press("Yes"), "Are you")
	step("age", press("A woman"), "How old are you?")
	step("time zone", press("Under 18"), "Where are you now?")
	step("main menu again", press("Not sure"), "What would you like to do?")
	j.documentsLesson()

	stats := func(by string) string {
		t.Helper()
		var out, errs bytes.Buffer
		code := run(context.Background(), []string{"stats", "--by", by}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errs)
		if code != 0 {
			t.Fatalf("lifeline stats --by %s: exit %d\n%s", by, code, errs.String())
		}
		return out.String()
	}
	// The lesson is counted as the effect is applied, after the turn.
	var out string
	waitFor(t, "the lesson counted", func() bool {
		out = stats("gender,age")
		return strings.Contains(out, "Lessons finished (lesson_done)")
	})
	// Her agreeing to the privacy notice was counted before she gave her
	// gender and age: that is the unknown row.
	_, lessons, _ := strings.Cut(out, "Lessons finished (lesson_done)\n")
	rows := strings.Split(lessons, "\n")
	for i, want := range []string{"gender age documents", "woman under18 <5", "unknown unknown <5", "total <5"} {
		if i >= len(rows) || strings.Join(strings.Fields(rows[i]), " ") != want {
			t.Fatalf("lessons by gender and age, line %d: want %q in\n%s", i, want, out)
		}
	}
	// Behind the "<5": one lesson, counted under her language, channel,
	// gender and age band, and nothing naming her.
	keys, err := srv.Client(t).Keys(context.Background(), "*ci:stats:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("figures keys %v (%v)", keys, err)
	}
	counters, err := srv.Client(t).HGetAll(context.Background(), keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if counters["rec:lesson_done=documents|en|telegram|woman|under18"] != "1" {
		t.Errorf("the lesson is not counted once under en, telegram, woman, under18: %v", counters)
	}
	if out := stats("age"); !strings.Contains(out, "under18") || strings.Contains(out, "woman") {
		t.Errorf("lifeline stats --by age:\n%s", out)
	}
	for f := range counters {
		if strings.Contains(f, "5550002") || strings.Contains(f, "profile.") {
			t.Errorf("counter %q names the chat or an answer about herself", f)
		}
	}
}
