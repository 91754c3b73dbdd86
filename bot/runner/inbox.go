package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/store"
)

// The inbox: what people send, recorded durably before a webhook is
// acknowledged.
// Accept implements Receiver: it records in durably (once per MessageID)
// and queues the person for a turn.
func (r *Runtime) Accept(ctx context.Context, in bot.Inbound) error {
	if in.Channel == "" || in.Address == "" || in.MessageID == "" {
		return fmt.Errorf("inbound message lacks channel, address or message id")
	}
	if in.At.IsZero() {
		in.At = r.now()
	}
	in.Text = cleanText(in.Text)
	person := r.sealer.PersonID(in.Channel, in.Address)
	addr := in.Address
	in.Address = "" // kept once, sealed, in the profile
	payload, err := json.Marshal(in)
	if err != nil {
		return err
	}
	fresh, err := r.store.Accept(ctx, store.Accepted{
		Person: person, MessageID: in.MessageID, Channel: in.Channel,
		Sealed: r.sealer.Seal(payload), Address: r.sealer.Seal([]byte(addr)),
		PlatformMsg: in.PlatformMsg, At: in.At,
	})
	if err != nil {
		r.cfg.Hooks.inbound(in.Channel, "error")
		return err
	}
	if !fresh {
		r.cfg.Hooks.inbound(in.Channel, "duplicate")
		r.log.Info("inbound duplicate ignored", "event", "inbound_duplicate", "person", person, "channel", in.Channel)
		return nil
	}
	r.cfg.Hooks.inbound(in.Channel, "accepted")
	r.log.Debug("inbound accepted", "event", "inbound_accepted", "person", person, "channel", in.Channel)
	return nil
}

// Trigger starts flow for person at their next turn, as if they had
// written, without them writing: a scheduled check-in. id names the trigger
// so a retried trigger runs once.
func (r *Runtime) Trigger(ctx context.Context, person, flow, id string) error {
	payload, err := json.Marshal(bot.Inbound{Flow: flow, MessageID: id, At: r.now()})
	if err != nil {
		return err
	}
	_, err = r.store.AcceptFor(ctx, person, id, r.sealer.Seal(payload), r.now())
	return err
}

// cleanText makes typed text safe to keep and show: valid UTF-8, no NULs
// or other control characters but newlines and tabs, at most MaxTextRunes.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > MaxTextRunes {
		s = string([]rune(s)[:MaxTextRunes])
	}
	return s
}
