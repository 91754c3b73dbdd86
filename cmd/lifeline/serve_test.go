package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestServeStopsOnAComponentFailure: when one component fails (here the
// Telegram adapter, whose webhook Telegram refuses), serve stops the rest
// and exits non-zero instead of running on as half a process.
func TestServeStopsOnAComponentFailure(t *testing.T) {
	fake := telegramtest.NewServer(t)
	fake.Respond("setWebhook", telegramtest.Response{ErrorCode: 400, Description: "Bad Request: bad webhook: HTTPS url must be provided for webhook"})
	srv := storetest.StartServer(t)
	env := map[string]string{
		"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": fake.URL,
		"TELEGRAM_WEBHOOK_URL": "https://example.invalid/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": "s3cret",
		"LISTEN_ADDR": freeAddr(t), "REDIS_URL": srv.URL(), "LIFELINE_DATA_KEY": testKey,
	}
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), logs, logs)
	}()
	select {
	case code := <-done:
		if code == 0 {
			t.Fatalf("serve exited 0 after a component failed:\n%s", logs)
		}
		if !strings.Contains(logs.String(), "event=component_failed component=telegram") {
			t.Errorf("no component_failed line naming telegram:\n%s", logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve still running 20 s after its Telegram adapter failed:\n%s", logs)
	}
}
