package bot

import (
	"testing"
	"time"
)

func TestQuietHours(t *testing.T) {
	q, err := ParseQuietHours("21:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	manila, _ := time.LoadLocation("Asia/Manila")         // east of UTC
	mexico, _ := time.LoadLocation("America/Mexico_City") // west of UTC
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name string
		at   time.Time
		loc  *time.Location
		want time.Time
	}{
		{"day in Manila passes", time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), manila, time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)},
		{"night in Manila waits for 08:00 local", time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC), manila, time.Date(2026, 3, 3, 8, 0, 0, 0, manila)},
		{"early morning in Manila waits the same day", time.Date(2026, 3, 2, 21, 0, 0, 0, time.UTC), manila, time.Date(2026, 3, 3, 8, 0, 0, 0, manila)},
		{"evening in Mexico waits for next morning", time.Date(2026, 3, 3, 4, 0, 0, 0, time.UTC), mexico, time.Date(2026, 3, 3, 8, 0, 0, 0, mexico)},
		{"afternoon in Mexico passes", time.Date(2026, 3, 3, 20, 0, 0, 0, time.UTC), mexico, time.Date(2026, 3, 3, 20, 0, 0, 0, time.UTC)},
		{"21:00 sharp is quiet", time.Date(2026, 6, 1, 21, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 6, 2, 8, 0, 0, 0, time.UTC)},
		{"08:00 sharp is allowed", time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)},
		{"across a DST change (New York, 8 March 2026)", time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC), ny, time.Date(2026, 3, 8, 8, 0, 0, 0, ny)},
		{"year end", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), time.UTC, time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := q.Next(tc.at, tc.loc); !got.Equal(tc.want) {
				t.Errorf("Next(%v) = %v, want %v", tc.at.In(tc.loc), got.In(tc.loc), tc.want.In(tc.loc))
			}
		})
	}
	off, _ := ParseQuietHours("off")
	at := time.Date(2026, 1, 1, 23, 0, 0, 0, time.UTC)
	if !off.Next(at, time.UTC).Equal(at) {
		t.Error("off must never delay")
	}
	day, _ := ParseQuietHours("12:00-13:00")
	if got := day.Next(time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC), time.UTC); !got.Equal(time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("same-day span: %v", got)
	}
	for _, bad := range []string{"late", "25:00-08:00", "21:00"} {
		if _, err := ParseQuietHours(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
