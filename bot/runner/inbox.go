package runner

import (
	"context"
	"fmt"
	"time"

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
	in.Text = bot.CleanText(in.Text, MaxTextRunes)
	person := r.sealer.PersonID(in.Channel, in.Address)
	addr := in.Address
	in.Address = "" // kept once, sealed, in the profile
	a := store.Accepted{
		Person: person, MessageID: in.MessageID, Channel: in.Channel,
		Sealed: r.sealer.SealJSON(in), Address: r.sealer.Seal([]byte(addr)),
		PlatformMsg: in.PlatformMsg, At: in.At,
	}
	in.At = in.At.Round(0) // as it comes out of its seal
	a.Value = in
	consumer := r.workHand.consumer(r.cfg.Consumer)
	if consumer != "" {
		// The turn may begin in the same round trip, for our worker.
		a.BeginToken, a.BeginTTL, a.BeginMax = token(), lockTTL, turnBatch
	}
	var fresh bool
	var taken []store.Entry
	var err error
	warm := false
	if consumer != "" {
		// A person whose last turn was here may be answered at once.
		if w := r.warm.take(person, time.Now()); w.Usable(a) {
			warm, fresh, err = r.acceptWarm(ctx, a, consumer, w)
		}
	}
	if !warm {
		fresh, taken, err = r.store.AcceptTaking(ctx, a, consumer)
		r.workHand.give(taken...)
	}
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
	sealed := r.sealer.SealJSON(bot.Inbound{Flow: flow, MessageID: id, At: r.now()})
	_, err := r.store.AcceptFor(ctx, person, id, sealed, r.now())
	return err
}
