package sms

import (
	"strings"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
)

// HelpAction names the out-of-flow action that answers HELP. Carriers
// require every SMS programme to answer HELP with who it is and how to
// stop; Twilio leaves that to Lifeline. So the adapter hands a HELP to the
// runtime as this action's choice (keeping the text, so a safe word is
// still recognised first), and HelpReply answers it. On Telegram and in
// the terminal "help" reaches a coach instead (kw.coach).
const HelpAction = "sms_help"

// MessageIDs are the message ids this package renders or names, for
// content checks: the HELP reply and, in each language, the word it names
// that reaches a coach (a word of that language's kw.coach, and never
// HELP); WhatsApp's own words (whatsapp.go).
var MessageIDs = []string{"sms.help", "sms.coach_word", msgWhatsAppClear, msgWhatsAppPrivacy}

// IsHelpKeyword reports whether text is the carriers' HELP keyword: the
// whole message, ignoring case and surrounding white space, as carriers
// match it.
func IsHelpKeyword(text string) bool {
	return strings.EqualFold(strings.TrimSpace(text), "HELP")
}

// Texts renders a message in a person's language (the runner does).
type Texts interface {
	Render(lang, msg string, data map[string]string) string
	Language(profile map[string]string) string
}

// HelpReply answers HELP in the person's language: the programme's name,
// the word that reaches a coach, how to stop. It leaves the conversation
// where it was.
func HelpReply(rt Texts) bot.Action {
	return func(_ string, profile map[string]string, _ string) ([]flows.Output, []flows.Effect) {
		word := rt.Render(rt.Language(profile), "sms.coach_word", nil)
		return []flows.Output{{Msg: "sms.help", Data: map[string]string{"coach_word": word}}}, nil
	}
}
