package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

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
// as WhatsApp refuses line breaks in a variable.
var TemplateVariables = []string{"text", "options"}

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
		for lang, tpl := range langs {
			if purpose == "" || lang == "" {
				return nil, errors.New("a template needs a purpose and a language")
			}
			if !contentSID.MatchString(tpl.ContentSID) {
				return nil, fmt.Errorf("%s/%s: sid must be a Content SID (HX and 32 hex digits)", purpose, lang)
			}
			for _, v := range tpl.Variables {
				if v != "text" && v != "options" {
					return nil, fmt.Errorf("%s/%s: unknown variable %q (want %s)", purpose, lang, v, strings.Join(TemplateVariables, " or "))
				}
			}
		}
	}
	return t, nil
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

// sendWhatsApp sends msg to to (E.164): free-form within the window, as
// its purpose's template outside it.
func (a *Adapter) sendWhatsApp(ctx context.Context, to string, msg bot.Outbound) error {
	text := render(msg)
	if strings.TrimSpace(text) == "" {
		a.log.Warn("whatsapp send skipped: empty message", "event", "whatsapp_empty")
		return nil
	}
	if msg.Purpose == "" || a.now().Sub(time.UnixMilli(msg.Last)) < Window {
		// A reply to the person's message, or within the window.
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
	vars := map[string]string{}
	for i, name := range tpl.Variables {
		v := oneLine(msg.Text)
		if name == "options" {
			v = optionsLine(msg.Options)
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
	if se := a.create(ctx, params); se != nil {
		if !se.Retryable && !se.Unreachable && !se.OptedOut {
			// The code only: Twilio's message text can quote the number.
			a.log.Warn("whatsapp template rejected", "event", "whatsapp_template_rejected", "code", se.Code, "purpose", msg.Purpose, "lang", msg.Lang)
		}
		return se
	}
	return nil
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
