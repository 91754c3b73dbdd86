package content_test

import "testing"

// TestDiscreetTranscripts turns sound on for the messages Lifeline starts
// itself, then off again, in Settings (bot/discreet.go keeps the choice).
func TestDiscreetTranscripts(t *testing.T) {
	c := load(t)
	sound := []string{"[settings]", "[more]", "[sound]", "[sound]", "[settings]", "[more]", "[sound]", "[silent]"}
	for lang, greeting := range map[string]string{"en": "hello", "es": "hola", "ar": "مرحبا", "ne": "नमस्ते"} {
		name := "settings_sound." + lang
		t.Run(name, func(t *testing.T) {
			golden(t, name, transcript(t, c, concat(onboarding(t, c, greeting, lang), sound)))
		})
	}
}
