package broadcast

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
)

// BenchmarkEnqueueMillion creates a broadcast to 1,000,000 synthetic
// people and reads the whole audience into its chunk queue, against a real
// Redis. It reports the seconds taken, the process's peak memory and the
// Redis bytes the queued broadcast costs per recipient. It only runs with
// -bench (run it with -benchtime=1x); people are made with pipelines
// before the timer starts.
func BenchmarkEnqueueMillion(b *testing.B) {
	const people = 1_000_000
	st := newStore(b)
	ctx := context.Background()
	rdb := st.Redis()
	b.Cleanup(func() {
		// Drop the namespace's keys: a million people is a lot to leave.
		var cursor uint64
		for {
			keys, next, err := rdb.Scan(ctx, cursor, st.Key("*"), 1000).Result()
			if err != nil {
				return
			}
			if len(keys) > 0 {
				rdb.Unlink(ctx, keys...)
			}
			if cursor = next; cursor == 0 {
				return
			}
		}
	})
	p := newProc(b, st, procOpts{batch: 1000})
	for start := 0; start < people; start += 10_000 {
		ids := make([]string, 0, 10_000)
		for i := start; i < start+10_000; i++ {
			ids = append(ids, p.rt.PersonID("sms", "+1"+strconv.Itoa(10_000_000+i)))
		}
		if err := st.IndexPeople(ctx, ids...); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var secs, perRecipient float64
	for i := 0; i < b.N; i++ {
		before := redisMemory(b, rdb)
		start := time.Now()
		id, err := p.svc.Create(ctx, Spec{Text: map[string]string{"en": "Hello"}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := p.svc.fanout(ctx, id, st.PeopleKey(), 64); err != nil {
				b.Fatal(err)
			}
			scanned, err := rdb.HGet(ctx, p.svc.metaKey(id), "scanned").Result()
			if err != nil {
				b.Fatal(err)
			}
			if scanned == "1" {
				break
			}
		}
		secs = time.Since(start).Seconds()
		queued, _ := rdb.HGet(ctx, p.svc.metaKey(id), "queued").Int64()
		if queued < people {
			b.Fatalf("queued %d of %d", queued, people)
		}
		perRecipient = float64(redisMemory(b, rdb)-before) / people
		if err := p.svc.Cancel(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(secs, "s/broadcast")
	b.ReportMetric(perRecipient, "redis-B/recipient")
	b.ReportMetric(peakMB(), "peak-RSS-MB")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MB")
}

// peakMB is the process's peak resident memory (VmHWM).
func peakMB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkSendThroughput sends a broadcast to 2,000 people end to end —
// fan-out, per-person checks, Runtime.SendTo, the runtime's sender — to a
// fake channel that never refuses, with no limiter and with a limiter of
// 1,000 messages a second (one a second per person).
func BenchmarkSendThroughput(b *testing.B) {
	const n = 2000
	for _, c := range []struct {
		name string
		lim  *bot.Limiter
	}{{"limiter=off", nil}, {"limiter=on", bot.NewLimiter(bot.Limits{Global: 1000, PerKey: 1})}} {
		b.Run(c.name, func(b *testing.B) {
			var rate float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st := newStore(b)
				ch := bottest.NewChannel("test")
				ch.LimitWith(c.lim)
				p := newProc(b, st, procOpts{chans: []bot.Channel{ch}, batch: 200, workers: 8, runService: true})
				var ps []person
				for j := range n {
					ps = append(ps, person{addr: fmt.Sprint("+44", j), ch: "test"})
				}
				addPeople(b, p, ps...)
				var done atomic.Int64
				p.svc.testHook = func(string, string) { done.Add(1) }
				b.StartTimer()
				start := time.Now()
				if _, err := p.svc.Create(context.Background(), Spec{Text: map[string]string{"en": "Hello"}}); err != nil {
					b.Fatal(err)
				}
				waitFor(b, "every message sent", func() bool { return ch.Total() >= n })
				rate = n / time.Since(start).Seconds()
				b.StopTimer()
				p.stop()
			}
			b.ReportMetric(rate, "msgs/s")
		})
	}
}
