package telegram

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
)

// BenchmarkSend reports the send rate the limiter allows (msgs/s) against
// a fake Bot API that never limits, next to the configured limit. The rate
// is measured between the first and the last message the fake received,
// so it is the steady rate; it should be at most the limit and within 5%
// of it. Run with -benchtime=5s or more for steadier figures.
func BenchmarkSend(b *testing.B) {
	cases := []struct {
		name  string
		cfg   Config
		chats []string
		limit float64
	}{
		{"telegram_defaults_many_chats", Config{}, chatAddrs(1000), DefaultGlobalRate},
		{"global_200_many_chats", Config{GlobalRate: 200, PerChatRate: 1000}, chatAddrs(1000), 200},
		{"per_chat_10_one_chat", Config{GlobalRate: 1000, PerChatRate: 10}, []string{chatAddr}, 10},
		{"group_1200_a_minute", Config{GlobalRate: 1000, PerChatRate: 1000, GroupPerMinute: 1200}, []string{"-1001234"}, 20},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			api := telegramtest.NewServer(b)
			cfg := tc.cfg
			cfg.Token, cfg.APIURL = testToken, api.URL
			a, err := New(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			msg := bot.Outbound{Text: "Hello"}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := a.Send(context.Background(), tc.chats[int(i)%len(tc.chats)], msg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()

			calls := api.CallsTo("sendMessage")
			if len(calls) < 2 {
				return
			}
			rate := float64(len(calls)-1) / calls[len(calls)-1].At.Sub(calls[0].At).Seconds()
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(tc.limit, "limit_msgs/s")
			if rate > tc.limit*1.01 {
				b.Errorf("sent %.2f msgs/s, over the limit of %.0f", rate, tc.limit)
			}
			if len(calls) >= 20 && rate < tc.limit*0.95 {
				b.Logf("sent %.2f msgs/s, more than 5%% under the limit of %.0f", rate, tc.limit)
			}
		})
	}
}

func chatAddrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(1000000 + i)
	}
	return out
}
