package sms

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

func TestIsHelpKeyword(t *testing.T) {
	for _, w := range []string{"HELP", "help", " Help \n"} {
		if !IsHelpKeyword(w) {
			t.Errorf("IsHelpKeyword(%q) = false", w)
		}
	}
	for _, w := range []string{"help me", "HELP!", "helpful", "", "ayuda", "STOP", "INFO"} {
		if IsHelpKeyword(w) {
			t.Errorf("IsHelpKeyword(%q) = true", w)
		}
	}
}

// smsWorld is Lifeline with the real runtime and the SMS adapter on Redis,
// behind a fake Twilio API that records every text sent.
type smsWorld struct {
	t     *testing.T
	c     *content.Content
	st    *store.Store
	rt    *runner.Runtime
	mux   *http.ServeMux
	mu    sync.Mutex
	texts []string
	n     int
}

func newSMSWorld(t *testing.T) *smsWorld {
	t.Helper()
	c, err := content.Load("", "en", "")
	if err != nil {
		t.Fatal(err)
	}
	w := &smsWorld{t: t, c: c, mux: http.NewServeMux()}
	api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.mu.Lock()
		w.texts = append(w.texts, r.PostForm.Get("Body"))
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(rw, createdBody)
	}))
	t.Cleanup(api.Close)
	u, _ := url.Parse(api.URL)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: testFrom, APIURL: api.URL, PublicURL: testPublic, MPS: 1000},
		quiet, WithTransport(localOnly{u.Host}))
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	sealer, err := store.NewSealer(key, key)
	if err != nil {
		t.Fatal(err)
	}
	w.st = store.New(storetest.Shared(t), storetest.Namespace())
	w.rt = runner.New(runner.Config{Store: w.st, Sealer: sealer, Content: c, Channels: []bot.Channel{a}, Workers: 2, Log: quiet})
	w.rt.OnAction(HelpAction, HelpReply(w.rt))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	run(t, a, w.rt)
	a.Register(w.mux)
	return w
}

// text sends body from the person's phone through the signed webhook and
// returns every text Lifeline sent back.
func (w *smsWorld) text(body string) string {
	w.t.Helper()
	w.n++
	w.mu.Lock()
	before := len(w.texts)
	w.mu.Unlock()
	if rec := (webhookRequest{path: InboundPath, form: inboundForm(fmt.Sprintf("SM%032d", w.n), testTo, body)}).do(w.t, w.mux); rec.Code != http.StatusOK {
		w.t.Fatalf("inbound %q: status %d", body, rec.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.rt.Settle(ctx); err != nil {
		w.t.Fatalf("settle: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.texts[before:], "\n")
}

func (w *smsWorld) cases() int64 {
	n, err := w.st.Redis().XLen(context.Background(), w.st.CaseStream()).Result()
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *smsWorld) render(lang, id string, data map[string]string) string {
	w.t.Helper()
	s, err := w.c.Catalog.Text(lang, id, data)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// TestHelpNamesTheCoachWord: on SMS, HELP gets the information reply the
// carriers require, in the person's language, and opens no case; the word
// it names reaches a coach.
func TestHelpNamesTheCoachWord(t *testing.T) {
	greetings := map[string]string{"en": "hello", "es": "hola", "fr": "bonjour", "pt": "olá", "ru": "привет", "ar": "مرحبا", "tl": "kumusta", "ne": "नमस्ते"}
	for _, lang := range []string{"en", "es", "fr", "pt", "ru", "ar", "tl", "ne"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			w := newSMSWorld(t)
			if lang == "en" {
				// Before anything else, HELP is answered in the default
				// language, and the conversation has not started.
				got := w.text("HELP")
				if want := w.render("en", "sms.help", map[string]string{"coach_word": "COACH"}); got != want {
					t.Fatalf("first HELP answered %q, want %q", got, want)
				}
			}
			w.text(greetings[lang])
			number := 0
			for i, l := range w.c.Def.Languages {
				if l == lang {
					number = i + 1
				}
			}
			w.text(fmt.Sprint(number))
			w.text("1")
			if got, want := w.text("1"), w.render(lang, "rights.choose", nil); !strings.Contains(got, want) {
				t.Fatalf("not at the rights menu: %q", got)
			}
			word := w.render(lang, "sms.coach_word", nil)
			got := w.text("help")
			if want := w.render(lang, "sms.help", map[string]string{"coach_word": word}); got != want {
				t.Errorf("HELP answered %q, want %q", got, want)
			}
			if !strings.Contains(got, word) || strings.EqualFold(word, "help") {
				t.Errorf("the reply %q does not name a coach word other than HELP (%q)", got, word)
			}
			if n := w.cases(); n != 0 {
				t.Errorf("HELP opened %d cases, want none", n)
			}
			// The conversation is where it was: a digit still picks a topic.
			if got, want := w.text("3"), w.render(lang, "lesson.documents.1", nil); !strings.Contains(got, want) {
				t.Errorf("after HELP, 3 answered %q, want the documents lesson", got)
			}
			got = w.text(word)
			if want := w.render(lang, "engine.coach_requested", nil); !strings.Contains(got, want) {
				t.Errorf("%q answered %q, want the coach offer %q", word, got, want)
			}
			if n := w.cases(); n != 1 {
				t.Errorf("the coach word opened %d cases, want 1", n)
			}
		})
	}
}
