package sms

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/twilio/twilio-go/client"
)

// Webhook paths, below Config.PublicURL. Point the Twilio number's
// "a message comes in" webhook (HTTP POST) at InboundPath; Send asks for
// delivery reports at StatusPath.
const (
	InboundPath = "/sms/inbound"
	StatusPath  = "/sms/status"
)

// maxWebhookBody caps a webhook request; Twilio's are a few KiB.
const maxWebhookBody = 64 << 10

// emptyTwiML answers a text without replying: replies go out through the
// API, from the outbound queue.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// Register adds the Twilio webhooks to mux: POST InboundPath for texts and
// POST StatusPath for delivery reports (WhatsAppInboundPath and
// WhatsAppStatusPath for the WhatsApp channel).
//
// A text that cannot be recorded is answered 503. Twilio sends it again
// only if the webhook URL asks for retries on 5xx with a connection
// override fragment (rc and rp, see Twilio's "webhook connection
// overrides"); otherwise that text is lost.
func (a *Adapter) Register(mux *http.ServeMux) {
	if a.whatsapp {
		mux.HandleFunc("POST "+WhatsAppInboundPath, a.handleInbound)
		mux.HandleFunc("POST "+WhatsAppStatusPath, a.handleStatus)
		return
	}
	mux.HandleFunc("POST "+InboundPath, a.handleInbound)
	mux.HandleFunc("POST "+StatusPath, a.handleStatus)
}

// handleInbound takes a text from Twilio. It answers only once the
// receiver has recorded the text; otherwise 503, and Twilio tries again.
func (a *Adapter) handleInbound(w http.ResponseWriter, r *http.Request) {
	form, ok := a.readSigned(w, r)
	if !ok {
		return
	}
	sid := form.Get("MessageSid")
	if sid == "" {
		a.log.Warn(a.Name() + " inbound without message sid")
		http.Error(w, "missing MessageSid", http.StatusBadRequest)
		return
	}
	from, err := a.address(form.Get("From"))
	if err != nil {
		// Nothing to reply to: acknowledge so Twilio does not retry.
		a.log.Warn(a.Name()+" inbound from an invalid sender number, ignored", "message_sid", sid)
		writeTwiML(w)
		return
	}
	body := form.Get("Body")
	media, _ := strconv.Atoi(form.Get("NumMedia"))
	in := bot.Inbound{
		Channel:   a.Name(),
		Address:   from,
		MessageID: sid,
		Text:      body,
		NotText:   media > 0 && strings.TrimSpace(body) == "",
		At:        a.now(),
	}
	if a.whatsapp {
		// Locations, contacts, reactions and the like come with no text,
		// or with a text Lifeline should not take for the person's words.
		in.NotText = strings.TrimSpace(body) == "" || media > 0 || form.Get("Latitude") != ""
		if digit := choicePayload(form); digit != "" {
			// A tapped button or list item: its digit, as if typed.
			in.Text, in.NotText = digit, false
		}
		a.acceptInbound(w, r, in)
		return
	}
	if IsHelpKeyword(body) {
		// The carriers' HELP gets the information reply (HelpReply).
		in.Choice = bot.ActionOption(HelpAction, "")
	}
	if a.currentReceiver() != nil {
		// Noted before Accept, which may already send the turn's replies.
		a.noteInbound(from, IsCarrierKeyword(body))
	}
	a.acceptInbound(w, r, in)
}

// acceptInbound hands in to the receiver and answers Twilio: 200 once it
// is recorded, 503 otherwise.
func (a *Adapter) acceptInbound(w http.ResponseWriter, r *http.Request, in bot.Inbound) {
	recv := a.currentReceiver()
	if recv == nil {
		a.log.Warn(a.Name()+" inbound before the channel runs, twilio will retry", "message_sid", in.MessageID)
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if err := recv.Accept(r.Context(), in); err != nil {
		a.log.Error(a.Name()+" inbound not recorded, twilio will retry", "message_sid", in.MessageID, "error", err)
		http.Error(w, "not recorded", http.StatusServiceUnavailable)
		return
	}
	writeTwiML(w)
}

// address is a webhook's From or To as the channel's address: E.164, and
// on WhatsApp without the whatsapp: prefix, which it must have.
func (a *Adapter) address(s string) (string, error) {
	if a.whatsapp {
		rest, ok := strings.CutPrefix(s, WhatsAppPrefix)
		if !ok {
			return "", errors.New("not a whatsapp: address")
		}
		s = rest
	}
	return NormalizeE164(s)
}

// handleStatus takes a delivery report and tells OnStatus of numbers that
// failed for good.
func (a *Adapter) handleStatus(w http.ResponseWriter, r *http.Request) {
	form, ok := a.readSigned(w, r)
	if !ok {
		return
	}
	sid := form.Get("MessageSid")
	status := form.Get("MessageStatus")
	code, _ := strconv.Atoi(form.Get("ErrorCode"))
	optedOut := code == codeOptedOut
	unreachable := unreachableCodes[code]
	a.log.Debug(a.Name()+" delivery report", "message_sid", sid, "message_status", status, "error_code", code)
	if optedOut || unreachable {
		to, err := a.address(form.Get("To"))
		switch {
		case err != nil:
			a.log.Warn(a.Name()+" delivery report with an invalid recipient number", "message_sid", sid, "error_code", code)
		case a.OnStatus != nil:
			a.OnStatus(r.Context(), to, unreachable, optedOut)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// readSigned reads a webhook's form and checks Twilio's signature. When it
// returns false it has answered the request. Twilio signs the form itself,
// so the body must be read first; a request with no signature at all, or
// declaring a body over the cap, is refused before reading anything.
func (a *Adapter) readSigned(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		a.log.Warn("sms webhook signature rejected", "path", r.URL.Path, "signature_present", false)
		w.Header().Set("Connection", "close")
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, false
	}
	if r.ContentLength > maxWebhookBody {
		a.log.Warn("sms webhook body too large", "path", r.URL.Path)
		w.Header().Set("Connection", "close")
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			a.log.Warn("sms webhook body too large", "path", r.URL.Path)
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		a.log.Warn("sms webhook with a malformed form", "path", r.URL.Path, "error", err)
		http.Error(w, "malformed form", http.StatusBadRequest)
		return nil, false
	}
	params := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		params[k] = v[0]
	}
	v := client.NewRequestValidator(a.cfg.AuthToken)
	if !v.Validate(a.signedURL(r), params, sig) {
		a.log.Warn("sms webhook signature rejected", "path", r.URL.Path, "signature_present", true)
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, false
	}
	return r.PostForm, true
}

// signedURL is the URL Twilio called, as it signed it: the public URL with
// the request's path and query. Without a public URL it is rebuilt from
// the request; a forged Host cannot forge the signature.
func (a *Adapter) signedURL(r *http.Request) string {
	base := a.publicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + r.URL.RequestURI()
}

func writeTwiML(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(emptyTwiML))
}
