package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Inbound is one thing a person did on a channel, normalised.
type Inbound struct {
	// Channel is the adapter's name ("telegram", "sms", "whatsapp",
	// "console").
	Channel string `json:"ch"`
	// Address is where replies go (a Telegram chat id, a phone number). It
	// is personal data: the runtime encrypts it at rest and never logs it.
	Address string `json:"addr"`
	// MessageID is the platform's id (Telegram update_id, Twilio
	// MessageSid), used to handle a redelivery once.
	MessageID string `json:"mid"`
	// Text is what the person wrote, or empty for a button.
	Text string `json:"text,omitempty"`
	// Choice and Prompt are a pressed button: the option id and the
	// prompt it was offered with.
	Choice string `json:"choice,omitempty"`
	Prompt int    `json:"prompt,omitempty"`
	// NotText marks a photo, voice note, sticker or other non-text message.
	NotText bool `json:"nt,omitempty"`
	// PlatformMsg is the platform's id of the person's message, kept (as a
	// bare id) so the chat can be cleared.
	PlatformMsg int64 `json:"pm,omitempty"`
	// At is when the platform received it.
	At time.Time `json:"at"`
	// Flow asks the runtime to start this flow for the person (a scheduled
	// check-in). Only the runtime sets it; a person cannot.
	Flow string `json:"flow,omitempty"`
}

// Outbound is one message to a person, rendered in their language.
type Outbound struct {
	Text    string      `json:"text"`
	Options []OutOption `json:"opts,omitempty"`
	// Prompt numbers the options, so a stale button can be recognised.
	Prompt int `json:"prompt,omitempty"`
	// Ephemeral asks the channel to delete the message after a moment
	// (the neutral line after clearing a chat).
	Ephemeral bool `json:"eph,omitempty"`
	// Silent asks the channel to deliver without sound or vibration, so a
	// message Lifeline starts itself draws no attention to the phone
	// (Telegram's disable_notification; see discreet.go).
	Silent bool `json:"silent,omitempty"`
	// Protect asks the channel to keep the message from being forwarded
	// or saved (Telegram's protect_content): lessons and a coach's words.
	Protect bool `json:"protect,omitempty"`
	// Purpose names why Lifeline started this message, when the person
	// did not just ask for it: the flow a check-in or reminder started
	// ("checkin", "checkin_reminder", "case_feedback"), a broadcast's
	// kind ("broadcast", "reminder", "job", "digest"), "coach", or
	// "retention" (the last notice before erasure). Empty for a reply to
	// the person's own message.
	// WhatsApp needs it to choose a template outside the 24-hour window.
	Purpose string `json:"purpose,omitempty"`
	// Lang and Last are stamped by the runtime on a message with a
	// Purpose: the person's language, and when they last wrote (Unix ms,
	// the profile's "last"; 0 if unknown).
	Lang string `json:"lang,omitempty"`
	Last int64  `json:"last,omitempty"`
}

// OutOption is a rendered button or numbered choice.
type OutOption struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Delivery is everything one turn sends to one person on one channel, in
// order. It is the unit of the durable outbound queue.
type Delivery struct {
	// ID is unique per delivery; with a message's index it names the
	// sent-marker that stops a retry from sending twice.
	ID      string     `json:"id"`
	Person  string     `json:"person"`
	Channel string     `json:"ch"`
	Address string     `json:"addr"`
	Msgs    []Outbound `json:"msgs"`
	// Clear asks the channel to delete the recent conversation first.
	Clear bool `json:"clear,omitempty"`
	// Forget marks the goodbye after an erasure: nothing about sending it
	// (such as the message's platform id) may be kept.
	Forget bool `json:"forget,omitempty"`
	// Recent are platform message ids to delete when Clear is set.
	Recent []int64 `json:"recent,omitempty"`
	// Once, when set, queues the delivery only once per person (see
	// Runtime.SendOnce); it is not kept with the delivery.
	Once string `json:"-"`
}

// Channel is what the runtime needs from a channel adapter. Adapters that
// receive by webhook register their handlers on the HTTP mux themselves and
// return from Run when ctx ends.
type Channel interface {
	// Name is the channel's name, as in Inbound.Channel.
	Name() string
	// Run receives messages and hands them to in until ctx ends.
	Run(ctx context.Context, in Receiver) error
	// Send delivers one message to address. It returns the platform's id
	// of the sent message (0 if it has none) or a *SendError.
	Send(ctx context.Context, address string, msg Outbound) (int64, error)
}

// Clearer is implemented by channels that can delete messages from the
// person's device (Telegram).
type Clearer interface {
	Clear(ctx context.Context, address string, ids []int64) error
}

// OwnWords is implemented by channels that say some of the runtime's
// messages in their own words: WhatsApp, where the service cannot clear
// a chat, says how to clear it on the phone. OwnWords maps a message id to
// the id the channel says instead.
type OwnWords interface {
	OwnWords() map[string]string
}

// Receiver accepts inbound messages durably. Accept returns nil only once
// the message is recorded, so an adapter may then acknowledge it to the
// platform; a redelivered message is accepted again without effect.
type Receiver interface {
	Accept(ctx context.Context, in Inbound) error
}

// SendError says what a failed send means for the next attempt.
type SendError struct {
	// Retryable sends may succeed later (rate limit, server error).
	Retryable bool
	// RetryAfter is how long the platform asked us to wait.
	RetryAfter time.Duration
	// Unreachable: the person blocked the bot or the number is dead.
	Unreachable bool
	// OptedOut: the person opted out at the carrier (SMS STOP).
	OptedOut bool
	// Code is the platform's error code, for logs.
	Code int
	Err  error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send failed (code %d, retryable %v): %v", e.Code, e.Retryable, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// AsSendError returns err as a *SendError, treating unknown errors (network
// failures) as retryable.
func AsSendError(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Retryable: true, Err: err}
}
