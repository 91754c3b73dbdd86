package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestLimiterTake(t *testing.T) {
	isGroup := func(k string) bool { return strings.HasPrefix(k, "-") }
	type step struct {
		key  string
		at   time.Duration // when Wait tries, from t0
		want time.Duration // slot granted, or when to try again, from t0
		ok   bool          // a slot was granted
	}
	tests := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{
			name:   "global spacing across keys",
			limits: Limits{Global: 10},
			steps: []step{
				{"a", 0, 0, true}, {"b", 0, ms(100), true}, {"c", 0, ms(200), true},
				{"d", ms(1000), ms(1000), true},
			},
		},
		{
			name:   "per-key spacing does not hold up other keys",
			limits: Limits{Global: 100, PerKey: 1},
			steps: []step{
				{"a", 0, 0, true},
				{"a", 0, ms(1000), false},
				{"b", 0, ms(10), true},
				{"a", ms(1000), ms(1000), true},
				{"a", ms(1500), ms(2000), false},
				{"b", ms(3000), ms(3000), true},
			},
		},
		{
			name:   "key spacing counts from the granted slot",
			limits: Limits{Global: 1, PerKey: 2},
			steps: []step{
				{"a", 0, 0, true}, {"b", 0, ms(1000), true},
				{"b", ms(1000), ms(1500), false},
			},
		},
		{
			name:   "group per minute is stricter than per key",
			limits: Limits{PerKey: 1, GroupPerMinute: 20, IsGroup: isGroup},
			steps: []step{
				{"-100", 0, 0, true}, {"-100", 0, ms(3000), false},
				{"7", 0, 0, true}, {"7", 0, ms(1000), false},
			},
		},
		{
			name:   "group per minute never looser than per key",
			limits: Limits{PerKey: 1, GroupPerMinute: 600, IsGroup: isGroup},
			steps:  []step{{"-1", 0, 0, true}, {"-1", 0, ms(1000), false}},
		},
		{
			name:   "empty key is held to the global rate only",
			limits: Limits{Global: 10, PerKey: 1},
			steps:  []step{{"", 0, 0, true}, {"", 0, ms(100), true}, {"a", 0, ms(200), true}, {"", 0, ms(300), true}},
		},
		{
			name:   "no limits",
			limits: Limits{},
			steps:  []step{{"a", 0, 0, true}, {"a", 0, 0, true}, {"b", 0, 0, true}},
		},
		{
			name:   "idle key starts fresh",
			limits: Limits{PerKey: 2},
			steps: []step{
				{"a", 0, 0, true}, {"a", ms(5000), ms(5000), true},
				{"a", ms(5100), ms(5500), false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(tc.limits)
			for i, s := range tc.steps {
				at, _, ok := l.take(s.key, t0.Add(s.at))
				if got := at.Sub(t0); got != s.want || ok != s.ok {
					t.Errorf("step %d (%s at %v): %v %v, want %v %v", i, s.key, s.at, got, ok, s.want, s.ok)
				}
			}
		})
	}
}

func TestLimiterHold(t *testing.T) {
	tests := []struct {
		name string
		hold string
		key  string
		want time.Duration
	}{
		{"held key waits", "a", "a", ms(5000)},
		{"other key not held", "a", "b", 0},
		{"global hold", "", "b", ms(5000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(Limits{Global: 30, PerKey: 1})
			l.now = func() time.Time { return t0 }
			l.Hold(tc.hold, 5*time.Second)
			if at, _, _ := l.take(tc.key, t0); at.Sub(t0) != tc.want {
				t.Errorf("next try %v, want %v", at.Sub(t0), tc.want)
			}
		})
	}
}

func TestLimiterEvictsIdleKeys(t *testing.T) {
	l := NewLimiter(Limits{Global: 1000, PerKey: 1})
	for i := range 500 {
		l.take(fmt.Sprint(i), t0)
	}
	if n := len(l.next); n != 500 {
		t.Fatalf("%d keys tracked, want 500", n)
	}
	// Past every key's next slot, the next reservation sweeps them away.
	l.take("x", t0.Add(time.Minute))
	if n := len(l.next); n != 1 {
		t.Errorf("%d keys tracked after they went idle, want 1", n)
	}
}

func TestLimiterCancelGivesSlotBack(t *testing.T) {
	l := NewLimiter(Limits{Global: 10, PerKey: 1})
	l.take("a", t0)
	l.take("b", t0) // t0+100ms
	at, prev, _ := l.take("c", t0)
	l.cancel("c", at, prev)
	if _, ok := l.next["c"]; ok {
		t.Errorf("key state kept after cancel")
	}
	if got, _, _ := l.take("d", t0); got.Sub(t0) != ms(200) {
		t.Errorf("slot after cancel %v, want 200ms", got.Sub(t0))
	}
}

func TestLimiterWait(t *testing.T) {
	l := NewLimiter(Limits{Global: 0.001}) // one send per 1000 s
	if _, err := l.Wait(context.Background(), "a"); err != nil {
		t.Fatalf("first wait: %v", err)
	}
	second := l.nextGlobal
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Wait(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with ended context: %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), ms(10))
	defer cancel()
	if _, err := l.Wait(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait past deadline: %v, want context.DeadlineExceeded", err)
	}
	// The abandoned slot was given back: the next send may go at the
	// second slot, not the third.
	if got := l.nextGlobal; !got.Equal(second) {
		t.Errorf("next slot %v after cancel, want %v", got, second)
	}
}
