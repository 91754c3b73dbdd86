package sms

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
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
	*bottest.Harness
	t   *testing.T
	c   *content.Content
	st  *store.Store
	rt  *runner.Runtime
	api *smstest.Server
	mux *http.ServeMux
	n   int
}

func newSMSWorld(t *testing.T) *smsWorld {
	t.Helper()
	w := &smsWorld{t: t, c: bottest.Content(t), api: smstest.NewServer(t), mux: http.NewServeMux()}
	a, err := New(Config{AccountSID: testSID, AuthToken: testToken, From: testFrom, APIURL: w.api.URL, PublicURL: testPublic, MPS: 1000},
		bottest.Quiet(), WithTransport(w.api.Transport()))
	if err != nil {
		t.Fatal(err)
	}
	w.Harness = bottest.Start(t, bottest.WithChannels(a), bottest.Workers(2), bottest.Before(func(h *bottest.Harness) {
		h.RT.OnAction(HelpAction, HelpReply(h.RT))
	}))
	w.st, w.rt = w.Store, w.RT
	run(t, a, w.rt)
	a.Register(w.mux)
	return w
}

// text sends body from the person's phone through the signed webhook and
// returns every text Lifeline sent back.
func (w *smsWorld) text(body string) string {
	w.t.Helper()
	w.n++
	before := len(w.api.Bodies())
	if rec := (webhookRequest{path: InboundPath, form: inboundForm(fmt.Sprintf("SM%032d", w.n), testTo, body)}).do(w.t, w.mux); rec.Code != http.StatusOK {
		w.t.Fatalf("inbound %q: status %d", body, rec.Code)
	}
	w.Settle()
	return strings.Join(w.api.Bodies()[before:], "\n")
}

func (w *smsWorld) cases() int64 {
	n, err := w.st.CaseQueue().Depth(context.Background())
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
