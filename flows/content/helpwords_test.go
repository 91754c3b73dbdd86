package content_test

import (
	"strings"
	"testing"
)

// TestHelpWords: the plain word for "help" in every language (and the
// ways people type it) reaches the coach offer from anywhere, on Telegram
// and in the terminal. (On SMS the carriers' HELP gets the information
// reply instead: bot/sms.)
func TestHelpWords(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		name, lang, greeting, word string
	}{
		{"en", "en", "hello", "help"},
		{"en_shouted", "en", "hello", "HELP!"},
		{"es", "es", "hola", "ayuda"},
		{"fr", "fr", "bonjour", "aide"},
		{"pt", "pt", "olá", "Ajuda"},
		{"ru", "ru", "привет", "помощь"},
		{"ar", "ar", "مرحبا", "مساعدة"},
		{"tl", "tl", "kumusta", "tulong"},
		{"ne", "ne", "नमस्ते", "मद्दत"},
		{"ne_romanised", "ne", "namaste", "madat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// From the rights menu: the help word, then "Go back".
			got := transcript(t, c, concat(onboarding(t, c, tc.greeting, tc.lang), []string{"1", tc.word, "1"}))
			offer := text(t, c, tc.lang, "engine.coach_requested")
			if !strings.Contains(got, "> "+tc.word+"\n< "+offer+"\n") || !strings.Contains(got, "! escalate asked normal") {
				t.Errorf("%q did not reach the coach offer:\n%s", tc.word, got)
			}
			golden(t, "help_word."+tc.name, got)
		})
	}
}
