package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestNothingPersonalAtRestOrInLogs runs Telegram and SMS journeys against
// a real redis-server with AOF on, then scans Redis's AOF and RDB files and
// the full debug log for the person's number, chat id, name, username and
// anything they typed. After /delete, the rewritten files must not even hold
// the person's pseudonymous id.
func TestNothingPersonalAtRestOrInLogs(t *testing.T) {
	const (
		chat     = int64(8172635491)
		first    = "Zenobia"
		username = "zeno_private"
		phone    = "+447700900987"
		token    = "twiliotoken123"
	)
	typed := []string{"Quokka sunrise", "my boss Hendrikus owes me wages", "Marigold"}
	fake := telegramtest.NewServer(t)
	twilio := smstest.NewServer(t)
	srv := storetest.StartServer(t)
	env, public := smsEnv(t, twilio, srv, token)
	env["TELEGRAM_BOT_TOKEN"], env["TELEGRAM_API_URL"], env["LOG_LEVEL"] = "123:abc", fake.URL, "debug"
	logs := listening(t, env)

	// Telegram: a person with a name and a username.
	tgSay := func(text string) {
		u := telegramtest.TextUpdate(chat, text)
		u.Message.From = &models.User{ID: chat, FirstName: first, Username: username}
		u.Message.Chat.FirstName, u.Message.Chat.Username = first, username
		n := len(fake.BotSaid(chat))
		fake.Queue(u)
		waitFor(t, "a Telegram reply", func() bool { return len(fake.BotSaid(chat)) > n && lastHasButtons(fake, chat) })
	}
	tgSay("/start")
	fake.Press(t, chat, "English")
	waitFor(t, "privacy", func() bool {
		return strings.Contains(strings.Join(fake.BotSaid(chat), "\n"), "Privacy") && lastHasButtons(fake, chat)
	})
	fake.Press(t, chat, "I agree")
	waitFor(t, "menu", func() bool {
		return strings.Contains(strings.Join(fake.BotSaid(chat), "\n"), "What would you") && lastHasButtons(fake, chat)
	})
	for _, text := range typed {
		tgSay(text)
	}

	// SMS: a person with a number, typing free text.
	n := 0
	sms := func(body string) {
		n++
		form := url.Values{"MessageSid": {fmt.Sprintf("SM%032d", n)}, "From": {phone}, "To": {"+15005550006"}, "Body": {body}}
		before := len(twilio.Bodies())
		postSMS(t, public, token, form)
		waitFor(t, "an SMS reply", func() bool { return len(twilio.Bodies()) > before })
	}
	sms("Hello")
	sms("1")
	sms("1")
	for _, text := range typed {
		sms(text)
	}

	secrets := append([]string{fmt.Sprint(chat), first, username, phone, strings.TrimPrefix(phone, "+")}, typed...)
	for _, s := range typed {
		secrets = append(secrets, strings.Fields(s)...)
	}
	secrets = append(secrets, "Hendrikus")
	scan := func(when string) {
		t.Helper()
		rdb := srv.Client(t)
		ctx := context.Background()
		if err := rdb.Save(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		files := redisFiles(t, srv.Dir())
		if len(files) < 2 {
			t.Fatalf("found no AOF and RDB files in %s: %v", srv.Dir(), files)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if len(s) >= 4 && bytes.Contains(b, []byte(s)) {
					t.Errorf("%s: %s holds %q in plain text", when, filepath.Base(f), s)
				}
			}
		}
	}
	scan("after the journeys")
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(logs.String(), s) {
			t.Errorf("the log holds %q", s)
		}
	}

	// Erase the SMS person; once Redis has rewritten its AOF, no file
	// holds their pseudonymous id.
	sms("delete")
	sms("1")
	person := personIn(t, logs.String(), "sms")
	rdb := srv.Client(t)
	// The erasure's after-commit part (leaving the people
	// index, then asking for a rewrite) runs from the effect stream: wait
	// until it has run.
	waitFor(t, "the erasure's after-commit work", func() bool {
		n, err := store.New(rdb, "ll").QueueDepth(context.Background(), store.New(rdb, "ll").EffectStreams()...)
		return err == nil && n == 0
	})
	waitFor(t, "the AOF rewrite", func() bool {
		info, _ := rdb.Info(context.Background(), "persistence").Result()
		return strings.Contains(info, "aof_rewrite_in_progress:0") && strings.Contains(info, "aof_rewrite_scheduled:0")
	})
	time.Sleep(100 * time.Millisecond)
	if err := rdb.BgRewriteAOF(context.Background()).Err(); err != nil && !strings.Contains(err.Error(), "already") {
		t.Fatal(err)
	}
	waitFor(t, "the second AOF rewrite", func() bool {
		info, _ := rdb.Info(context.Background(), "persistence").Result()
		return strings.Contains(info, "aof_rewrite_in_progress:0") && strings.Contains(info, "aof_rewrite_scheduled:0")
	})
	secrets = append(secrets, person)
	scan("after delete")
}

// personIn finds the pseudonymous id the log used for a channel's person.
func personIn(t *testing.T, logs, channel string) string {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "channel="+channel) {
			if _, rest, ok := strings.Cut(line, "person="); ok {
				return strings.Fields(rest)[0]
			}
		}
	}
	t.Fatal("no person id in the log")
	return ""
}

// redisFiles lists the AOF and RDB files of a redis-server data directory.
func redisFiles(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.Contains(p, ".aof") || strings.HasSuffix(p, ".rdb")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
