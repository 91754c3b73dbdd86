package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestMain lets the test binary run as `lifeline` itself when a test starts
// it as a child process (LIFELINE_TEST_CHILD=1), so tests can run several
// real processes and kill one with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("LIFELINE_TEST_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// process is a `lifeline serve` running as a child process.
type process struct {
	name string
	addr string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// startProcess runs `lifeline serve` in a process of its own with env (on
// top of a bare environment) and waits until it is ready.
func startProcess(t *testing.T, name string, env map[string]string) *process {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &process{name: name, addr: addr, logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "serve")
	p.cmd.Env = []string{"LIFELINE_TEST_CHILD=1", "LISTEN_ADDR=" + addr, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if strings.Contains(p.logs.String(), "shutdown_deadline") {
				t.Errorf("%s's workers did not finish on SIGTERM", name)
			}
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			t.Errorf("%s did not stop within 15s of SIGTERM", name)
		}
		if t.Failed() {
			t.Logf("%s's log:\n%s", name, p.logs.String())
		}
	})
	waitFor(t, name+" ready", func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

// kill ends the process with SIGKILL: no shutdown, no hand-back.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// deliver posts a webhook body to the process until it answers 200, as
// Telegram redelivers an update that got no 2xx answer.
func (p *process) deliver(t *testing.T, body []byte, secret string) {
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/telegram/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if attempt == 50 {
			t.Errorf("%s refused an update 50 times: %v", p.name, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProcessesShareOneRedis runs two real `lifeline serve` processes on
// one Redis, in Telegram webhook mode against a fake Bot API.
//
// First, people's updates are spread over both processes, a third of them
// delivered to both (as Telegram may redeliver to another machine): every
// person gets the same replies, those of one process handling their
// messages once each, in order.
//
// Then staff start a broadcast. While it is being sent (Telegram answering
// "retry after 3 s" holds the senders) one process is killed with SIGKILL.
// The other takes over what it held: every person gets the broadcast.
func TestProcessesShareOneRedis(t *testing.T) {
	t.Parallel()
	fake := telegramtest.NewServer(t)
	srv := storetest.StartServer(t)
	const secret = "webhook-secret_1"
	env := map[string]string{
		"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_URL": fake.URL,
		"TELEGRAM_WEBHOOK_URL": "https://lifeline.example/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": secret,
		"REDIS_URL": srv.URL(), "LIFELINE_DATA_KEY": testKey, "STAFF_API_TOKEN": "staff-token",
		"QUIET_HOURS": "off", "LOG_LEVEL": "warn",
	}
	a := startProcess(t, "process A", env)
	b := startProcess(t, "process B", env)
	procs := []*process{a, b}

	words := []string{"/start", "1", "1", "1", "banana", "/menu", "4", "5"}
	const people = 20
	var wg sync.WaitGroup
	for i := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chat := int64(7000 + i)
			for _, w := range words {
				req := fake.WebhookRequest(telegramtest.TextUpdate(chat, w), secret)
				body, _ := io.ReadAll(req.Body)
				first := rand.IntN(2)
				procs[first].deliver(t, body, secret)
				if rand.IntN(3) == 0 {
					procs[1-first].deliver(t, body, secret)
				}
			}
		}()
	}
	wg.Wait()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	st := store.New(rdb, "ll")
	idle := func() bool {
		n, err := st.QueueDepth(context.Background(), append(st.WorkStreams(), st.OutStreams("telegram")...)...)
		return err == nil && n == 0
	}
	// Telegram's one message a second to a chat paces the replies.
	waitWithin(t, 90*time.Second, "every update answered", idle)
	ref := fake.BotSaid(7000)
	for _, want := range []string{"Choose your language", "What would you like to do?", "Choose a topic"} {
		if !strings.Contains(strings.Join(ref, "\n"), want) {
			t.Errorf("the replies lack %q:\n%s", want, strings.Join(ref, "\n---\n"))
		}
	}
	for i := 1; i < people; i++ {
		if got := fake.BotSaid(int64(7000 + i)); strings.Join(got, "\n") != strings.Join(ref, "\n") {
			t.Errorf("chat %d got %d replies unlike the %d of chat 7000:\n%s", 7000+i, len(got), len(ref), strings.Join(got, "\n---\n"))
		}
	}

	// A broadcast, held up by Telegram's flood control, and a SIGKILL.
	sentBefore := len(fake.CallsTo("sendMessage"))
	// More "retry after" answers than both processes have sender workers
	// (8 each), so every worker is waiting, none sending, when A dies.
	holds := make([]telegramtest.Response, 60)
	for i := range holds {
		holds[i] = telegramtest.TooManyRequests(3)
	}
	fake.Respond("sendMessage", holds...)
	postBroadcast(t, "http://"+a.addr, "staff-token", `{"text": {"en": "Reminder: your coach is here for you."}}`)
	waitFor(t, "both processes held back by Telegram", func() bool { return len(fake.CallsTo("sendMessage")) >= sentBefore+16 })
	a.kill(t)
	// B claims what A held once it has been idle for 30 s.
	waitWithin(t, 90*time.Second, "the broadcast delivered by process B", func() bool {
		for i := range people {
			if !strings.Contains(strings.Join(fake.BotSaid(int64(7000+i)), "\n"), "Reminder: your coach") {
				return false
			}
		}
		return idle()
	})
	dup := 0
	for i := range people {
		n := strings.Count(strings.Join(fake.BotSaid(int64(7000+i)), "\n"), "Reminder: your coach")
		dup += n - 1
	}
	// SIGKILL between Telegram accepting a message and Redis recording it
	// would repeat that message; A was waiting out "retry after", not
	// sending, when it died, so nothing may be repeated.
	if dup != 0 {
		t.Errorf("%d broadcast messages were sent twice", dup)
	}
	if strings.Contains(b.logs.String(), "panic") {
		t.Errorf("process B panicked:\n%s", b.logs.String())
	}
}

// postBroadcast starts a broadcast of spec (the staff API's JSON) at base
// with the staff token, and fails the test unless it is created.
func postBroadcast(t *testing.T, base, token, spec string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/broadcasts", strings.NewReader(spec))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create broadcast: %s", res.Status)
	}
}
