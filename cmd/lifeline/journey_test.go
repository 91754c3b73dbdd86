package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// syncBuffer is a log sink the test can read while lifeline writes.
type syncBuffer = bottest.Buffer

// lifeline runs `lifeline serve` with env until the test ends, and returns
// its log.
func lifeline(t *testing.T, env map[string]string) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), logs, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("lifeline exited %d:\n%s", code, logs.String())
			}
			if strings.Contains(logs.String(), "shutdown_deadline") {
				t.Errorf("lifeline's workers did not finish when it was stopped:\n%s", logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("lifeline did not stop within 15s")
		}
	})
	return logs
}

var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

var waitFor, waitWithin = bottest.WaitFor, bottest.WaitWithin

// lastHasButtons reports whether the bot's newest message in chat carries
// buttons: a reply is complete (the person must act).
func lastHasButtons(fake *telegramtest.Server, chat int64) bool {
	msgs := fake.Messages(chat)
	for i := len(msgs) - 1; i >= 0; i-- {
		if !msgs[i].FromPerson {
			return len(msgs[i].Buttons) > 0
		}
	}
	return false
}

// journey is one person on Telegram going through lifeline step by step.
type journey struct {
	t    *testing.T
	fake *telegramtest.Server
	chat int64
}

// step does act and waits until the bot's new messages to the person hold
// want and its newest asks them to act.
func (j journey) step(what string, act func(), want string) {
	j.t.Helper()
	n := len(j.fake.BotSaid(j.chat))
	act()
	waitFor(j.t, what, func() bool {
		said := j.fake.BotSaid(j.chat)
		return len(said) > n && strings.Contains(strings.Join(said[n:], "\n"), want) && lastHasButtons(j.fake, j.chat)
	})
}

// press is the act of pressing the button labelled label.
func (j journey) press(label string) func() { return func() { j.fake.Press(j.t, j.chat, label) } }

// welcome goes from /start through the language menu and the privacy
// notice to the main menu.
func (j journey) welcome() {
	j.t.Helper()
	j.step("language menu", func() { j.fake.Type(j.chat, "/start") }, "Choose your language")
	j.step("privacy notice", j.press("English"), "Privacy")
	j.step("main menu", j.press("I agree"), "What would you like to do?")
}

// documentsLesson goes from the main menu through the documents lesson
// and its quiz to the feedback.
func (j journey) documentsLesson() {
	j.t.Helper()
	j.step("topics", j.press("Know your rights"), "Choose a topic")
	j.step("lesson", j.press("Your documents"), "Your passport")
	j.step("lesson part 2", j.press("Continue"), "warning sign")
	j.step("quiz", j.press("Continue"), "What is true?")
	j.step("feedback", j.press("My passport stays with me"), "Who can help")
}

// serveTelegram runs `lifeline serve` for Telegram against a fake Bot API
// and a private redis-server until the test ends, and returns them, its
// environment and its log.
func serveTelegram(t *testing.T) (*telegramtest.Server, *storetest.Server, map[string]string, *syncBuffer) {
	t.Helper()
	fake, srv := telegramtest.NewServer(t), storetest.StartServer(t)
	env := map[string]string{
		"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": fake.URL,
		"REDIS_URL": srv.URL(), "LIFELINE_DATA_KEY": testKey, "LISTEN_ADDR": "127.0.0.1:0",
	}
	return fake, srv, env, lifeline(t, env)
}

// TestTelegramJourney runs the lifeline binary's serve against a fake Bot
// API and a real Redis: /start → language → consent → menu → the lesson to
// its end → /clear.
func TestTelegramJourney(t *testing.T) {
	fake, _, _, logs := serveTelegram(t)
	const chat = 5550001
	j := journey{t, fake, chat}
	j.welcome()
	j.documentsLesson()
	j.step("back to the menu", j.press("Done"), "Choose a topic")

	n := len(fake.CallsTo("deleteMessages"))
	fake.Type(chat, "/clear")
	waitFor(t, "the chat cleared", func() bool { return len(fake.CallsTo("deleteMessages")) > n })
	waitFor(t, "messages deleted", func() bool {
		for _, m := range fake.Messages(chat) {
			if m.Text == "What would you like to do?" && !m.Deleted {
				return false
			}
		}
		return true
	})
	for _, secret := range []string{"5550001", "My passport stays", "123:abc"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}
