package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestClusterJourneys runs `lifeline serve` with Telegram and SMS on a real
// Redis Cluster of three masters (REDIS_URL=redis-cluster://…): the
// Telegram journey to the end of a lesson, the SMS onboarding by digits,
// a broadcast through the staff API that reaches both people once each,
// and `lifeline stats` counting them, with the same commands as on one
// Redis.
func TestClusterJourneys(t *testing.T) {
	cluster := storetest.StartCluster(t, 3, 0)
	fake, twilio := telegramtest.NewServer(t), smstest.NewServer(t)
	const token = "twiliotoken123"
	env, public := smsEnvOn(t, twilio, cluster.URL(), token)
	env["TELEGRAM_BOT_TOKEN"], env["TELEGRAM_API_URL"] = "123:abc", fake.URL
	env["STAFF_API_TOKEN"], env["QUIET_HOURS"] = "staff-token", "off"
	logs := listening(t, env)

	const chat = 5550042
	j := journey{t, fake, chat}
	j.welcome()
	j.documentsLesson()
	j.step("back to the menu", j.press("Done"), "Choose a topic")

	text := texter(t, twilio, public, token, "+447700900777")
	text("Hi", "1 English")
	text("1", "Privacy")
	text("1", "What would you like to do?")

	postBroadcast(t, public, "staff-token", `{"text": {"en": "Reminder: your coach is here for you."}}`)
	count := func() (tg, sms int) {
		return strings.Count(strings.Join(fake.BotSaid(chat), "\n"), "Reminder: your coach"),
			strings.Count(strings.Join(twilio.Bodies(), "\n"), "Reminder: your coach")
	}
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	waitFor(t, "the broadcast on both channels", func() bool { tg, sms := count(); return tg > 0 && sms > 0 })
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"stats", "--by", "channel", "--json"}, func(k string) string { return env[k] },
		strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("lifeline stats on the cluster: exit %d\n%s", code, errs.String())
	}
	var stats map[string]any
	if err := json.Unmarshal(out.Bytes(), &stats); err != nil {
		t.Fatalf("stats: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"telegram"`) || !strings.Contains(out.String(), `"sms"`) {
		t.Errorf("stats on the cluster name no channel:\n%s", out.String())
	}
	if tg, sms := count(); tg != 1 || sms != 1 {
		t.Errorf("the broadcast reached Telegram %d and SMS %d times, want once each", tg, sms)
	}
	if strings.Contains(logs.String(), "CROSSSLOT") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the log shows errors on the cluster:\n%s", logs.String())
	}
}
