package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
)

// WhatsApp through Twilio is a mode of this adapter, not a package of its
// own: Twilio carries it on the same Messages API, with the same webhook
// signature, error answers and delivery reports, and only the addresses
// ("whatsapp:+<E.164>"), the paths and the 24-hour window differ. A From
// of "whatsapp:+..." turns the mode on; the adapter is then the channel
// "whatsapp", a person's WhatsApp address being an identity of its own.
//
// What differs from SMS:
//   - Twilio does not answer STOP, START or HELP on WhatsApp, so they go
//     to the runtime like any text: STOP is answered there, and "help"
//     reaches a coach as on Telegram.
//   - Media, locations, contacts and other messages without text arrive
//     as NotText, and the runtime answers that it reads text only.
//   - A message Lifeline starts (bot.Outbound.Purpose set) more than 24
//     hours after the person last wrote goes as a Content template of its
//     purpose and language, or not at all (Skipped counts those).
//   - Within the window, options go as buttons or a list where a choices
//     template fits (ChoicesPurpose), and a tap comes back as its digit.
//   - The service cannot clear a WhatsApp chat, so CLEAR and the privacy
//     notice say how to clear it on the phone (OwnWords). A person who
//     blocks the business (63014) is unreachable until they write again.

// WhatsAppPrefix starts a WhatsApp address at Twilio.
const WhatsAppPrefix = "whatsapp:"

const whatsAppChannel = "whatsapp"

// WhatsApp webhook paths, below Config.PublicURL: point the WhatsApp
// sender's "a message comes in" webhook (HTTP POST) at
// WhatsAppInboundPath; Send asks for delivery reports at
// WhatsAppStatusPath.
const (
	WhatsAppInboundPath = "/whatsapp/inbound"
	WhatsAppStatusPath  = "/whatsapp/status"
)

// Window is how long after a person's last message WhatsApp allows
// free-form messages to them.
const Window = 24 * time.Hour

// WhatsApp error codes: a free-form message outside the window (63016)
// and the sender's rate limit (63018).
const (
	codeOutsideWindow = 63016
	codeWhatsAppRate  = 63018
)

// WhatsApp's own words for two of the runtime's messages (OwnWords): a
// business cannot delete messages from a person's WhatsApp, so the answer
// to CLEAR and the privacy notice's details say how to clear the chat on
// the phone instead of offering CLEAR.
const (
	msgWhatsAppClear   = "whatsapp.clear_done"
	msgWhatsAppPrivacy = "whatsapp.privacy_more"
)

// OwnWords implements bot.OwnWords: on WhatsApp, the runtime's answer to
// CLEAR and the privacy notice's details are WhatsApp's own. SMS has none.
func (a *Adapter) OwnWords() map[string]string {
	if !a.whatsapp {
		return nil
	}
	return map[string]string{flows.MsgClearNoop: msgWhatsAppClear, privacyMore: msgWhatsAppPrivacy}
}

// privacyMore is the privacy notice's details (flows/defs/onboarding.yaml).
const privacyMore = "onboarding.privacy_more"

// maxWhatsAppSegments keeps a WhatsApp part within Twilio's 1600
// characters.
const maxWhatsAppSegments = 10

// Template is one pre-approved WhatsApp message: a Twilio Content
// template and the values of its variables, in order ({{1}}, {{2}}...).
type Template struct {
	ContentSID string   `yaml:"sid"`
	Variables  []string `yaml:"variables"`
}

// Templates maps a purpose (bot.Outbound.Purpose) and a language to its
// template.
type Templates map[string]map[string]Template

// TemplateVariables are the values a template's variables may name: the
// message's text and its options ("1 Label, 2 Label"), each on one line,
// as WhatsApp refuses line breaks in a variable. A choices template
// (ChoicesPurpose) names its options' labels one by one instead: option1,
// option2... (see optionVariable).
var TemplateVariables = []string{"text", "options"}

// Choices: within the window, a message with N options (1 to MaxChoices)
// goes as the template of purpose ChoicesPurpose(N) and language
// AnyLanguage when there is one: a twilio/quick-reply (up to 3 buttons)
// or a twilio/list-picker (up to 10 items) whose every word is a variable
// (text, option1...optionN), and whose buttons or items have the ids "1"
// to "N". A tap comes back as that id, which Lifeline reads as the digit
// typed (choicePayload), so buttons and digits answer alike. Without such
// a template, with a label longer than WhatsApp allows, or if Twilio
// refuses it, the options go as a numbered list, as on SMS.
const (
	// MaxChoices is the most options a choices template may hold (a
	// list-picker's 10 items).
	MaxChoices = 10
	// AnyLanguage is the language of a choices template: its words are
	// all variables, and a reply carries no language.
	AnyLanguage = "any"
	// maxQuickReplies is the most quick-reply buttons WhatsApp shows in a
	// session; more options need a list-picker.
	maxQuickReplies = 3
	// maxButtonTitle and maxListItem are WhatsApp's limits on a
	// quick-reply button's title and a list item's, in characters;
	// maxChoicesBody on the text above them.
	maxButtonTitle = 20
	maxListItem    = 24
	maxChoicesBody = 1024
)

// ChoicesPurpose is the templates file's purpose for messages with n
// options: "choices_<n>".
func ChoicesPurpose(n int) string { return "choices_" + strconv.Itoa(n) }

// choicesCount is n for ChoicesPurpose(n), 0 for any other purpose (-1
// for a choices_ purpose out of range).
func choicesCount(purpose string) int {
	rest, ok := strings.CutPrefix(purpose, "choices_")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > MaxChoices || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

// optionVariable is k for the variable "option<k>" (1 to MaxChoices),
// else 0.
func optionVariable(name string) int {
	if n := choicesCount("choices_" + strings.TrimPrefix(name, "option")); n > 0 && strings.HasPrefix(name, "option") {
		return n
	}
	return 0
}

var contentSID = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// ParseTemplates reads a templates file: purpose, then language, then
// sid and variables.
//
//	checkin:
//	  en: {sid: HX0123456789abcdef0123456789abcdef, variables: [text]}
func ParseTemplates(b []byte) (Templates, error) {
	var t Templates
	if err := yaml.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	for purpose, langs := range t {
		n := choicesCount(purpose)
		if n < 0 {
			return nil, fmt.Errorf("%s: a choices template is choices_1 to choices_%d", purpose, MaxChoices)
		}
		for lang, tpl := range langs {
			if purpose == "" || lang == "" {
				return nil, errors.New("a template needs a purpose and a language")
			}
			if !contentSID.MatchString(tpl.ContentSID) {
				return nil, fmt.Errorf("%s/%s: sid must be a Content SID (HX and 32 hex digits)", purpose, lang)
			}
			if err := checkVariables(n, lang, tpl.Variables); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", purpose, lang, err)
			}
		}
	}
	return t, nil
}

// checkVariables checks a template's variables: for a choices template
// of n options (n > 0), the language AnyLanguage and each of option1 to
// option<n>; for any other, text and options only.
func checkVariables(n int, lang string, vars []string) error {
	if n == 0 {
		for _, v := range vars {
			if v != "text" && v != "options" {
				return fmt.Errorf("unknown variable %q (want %s)", v, strings.Join(TemplateVariables, " or "))
			}
		}
		return nil
	}
	if lang != AnyLanguage {
		return fmt.Errorf("a choices template's language is %q: its words are all variables", AnyLanguage)
	}
	seen := map[int]bool{}
	for _, v := range vars {
		k := optionVariable(v)
		switch {
		case v == "text" || v == "options":
		case k == 0:
			return fmt.Errorf("unknown variable %q (want text, options or option1 to option%d)", v, n)
		case k > n:
			return fmt.Errorf("variable %q, but the template is for %d options", v, n)
		}
		seen[k] = true
	}
	for k := 1; k <= n; k++ {
		if !seen[k] {
			return fmt.Errorf("no variable option%d: every option needs its button or item", k)
		}
	}
	return nil
}

// LoadTemplates reads the templates file at path; a missing file is no
// templates.
func LoadTemplates(path string) (Templates, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := ParseTemplates(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Skipped is how many messages the WhatsApp channel did not send because
// they fell outside the window and had no template.
func (a *Adapter) Skipped() int64 { return a.skipped.Load() }

// sendWhatsApp sends msg to to (E.164): free-form within the window (its
// options as buttons where a choices template fits), as its purpose's
// template outside it.
func (a *Adapter) sendWhatsApp(ctx context.Context, to string, msg bot.Outbound) error {
	text := render(msg)
	if strings.TrimSpace(text) == "" {
		a.log.Warn("whatsapp send skipped: empty message", "event", "whatsapp_empty")
		return nil
	}
	if msg.Purpose == "" || a.now().Sub(time.UnixMilli(msg.Last)) < Window {
		// A reply to the person's message, or within the window.
		if sent, err := a.sendChoices(ctx, to, msg); sent {
			return err
		}
		return a.sendParts(ctx, to, text, maxWhatsAppSegments)
	}
	tpl, ok := a.cfg.Templates[msg.Purpose][msg.Lang]
	if !ok {
		a.skipped.Add(1)
		if a.OnSkip != nil {
			a.OnSkip(msg.Purpose)
		}
		a.log.Warn("whatsapp send skipped: outside the 24-hour window and no template",
			"event", "whatsapp_no_template", "purpose", msg.Purpose, "lang", msg.Lang)
		return nil
	}
	if se := a.sendContent(ctx, to, tpl, msg, true); se != nil {
		if !se.Retryable && !se.Unreachable && !se.OptedOut {
			// The code only: Twilio's message text can quote the number.
			a.log.Warn("whatsapp template rejected", "event", "whatsapp_template_rejected", "code", se.Code, "purpose", msg.Purpose, "lang", msg.Lang)
		}
		return se
	}
	return nil
}

// sendChoices sends msg with its options as buttons or a list, through
// the choices template for their number. sent is false when it did not
// (no template, words too long for WhatsApp, or refused by Twilio): then
// the caller sends the numbered text.
func (a *Adapter) sendChoices(ctx context.Context, to string, msg bot.Outbound) (sent bool, err error) {
	n := len(msg.Options)
	tpl, ok := a.cfg.Templates[ChoicesPurpose(n)][AnyLanguage]
	if n == 0 || !ok {
		return false, nil
	}
	limit := maxListItem
	if n <= maxQuickReplies {
		limit = maxButtonTitle
	}
	if strings.TrimSpace(msg.Text) == "" || utf8.RuneCountInString(msg.Text) > maxChoicesBody {
		a.log.Debug("whatsapp choices sent as text: the text does not fit", "event", "whatsapp_choices_as_text", "options", n)
		return false, nil
	}
	for _, o := range msg.Options {
		if l := utf8.RuneCountInString(oneLine(o.Label)); l == 0 || l > limit {
			a.log.Debug("whatsapp choices sent as text: a label does not fit", "event", "whatsapp_choices_as_text", "options", n)
			return false, nil
		}
	}
	se := a.sendContent(ctx, to, tpl, msg, false)
	if se != nil && !se.Retryable && !se.Unreachable && !se.OptedOut {
		// A template that does not match its purpose: the numbered text
		// still reaches the person.
		a.log.Warn("whatsapp choices template rejected, sent as text", "event", "whatsapp_choices_rejected", "code", se.Code, "options", n)
		return false, nil
	}
	if se != nil {
		return true, se
	}
	return true, nil
}

// sendContent sends msg as the Content template tpl, its variables filled
// from msg; flat puts the text on one line (a template outside the
// window: WhatsApp refuses line breaks in its variables).
func (a *Adapter) sendContent(ctx context.Context, to string, tpl Template, msg bot.Outbound, flat bool) *bot.SendError {
	vars := map[string]string{}
	for i, name := range tpl.Variables {
		v := msg.Text
		if flat {
			v = oneLine(v)
		}
		switch k := optionVariable(name); {
		case name == "options":
			v = optionsLine(msg.Options)
		case k > 0 && k <= len(msg.Options):
			v = oneLine(msg.Options[k-1].Label)
		case k > 0:
			v = ""
		}
		vars[strconv.Itoa(i+1)] = v
	}
	params := a.params(to)
	params.SetContentSid(tpl.ContentSID)
	if len(vars) > 0 {
		b, _ := json.Marshal(vars)
		params.SetContentVariables(string(b))
	}
	waitStart := time.Now()
	if err := a.limiter.wait(ctx); err != nil {
		return &bot.SendError{Retryable: true, Err: err}
	}
	if a.OnWait != nil {
		a.OnWait(time.Since(waitStart))
	}
	return a.create(ctx, params)
}

// choicePayload is the digit a tapped button or list item stands for: its
// id (ButtonPayload, or ListId for a list) when that is 1 to MaxChoices,
// as choices templates make them; else "".
func choicePayload(form url.Values) string {
	for _, p := range []string{form.Get("ButtonPayload"), form.Get("ListId")} {
		if choicesCount("choices_"+p) > 0 {
			return p
		}
	}
	return ""
}

// oneLine is s with its runs of white space, line breaks included, made
// one space: WhatsApp refuses a variable with a line break, a tab or more
// than four spaces in a row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func optionsLine(opts []bot.OutOption) string {
	parts := make([]string, len(opts))
	for i, o := range opts {
		parts[i] = strconv.Itoa(i+1) + " " + oneLine(o.Label)
	}
	return strings.Join(parts, ", ")
}
