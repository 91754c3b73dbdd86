package runner

import (
	"context"

	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// Effects, as mailroom's hooks: each kind of engine effect says, in its own
// file (effect_*.go), what it changes inside the turn's commit (inTurn: the
// profile, the session, what the turn answers) and what the runner itself
// does after the commit (after: keys outside the person's own, such as a
// topic's set of subscribers). Modules add their own after-commit handlers
// per kind (Config.Effects). After-commit work runs from a durable queue
// (the commit writes it with the turn), with retries: a crash loses none of
// it, and a handler may run again after one, so handlers are idempotent.
type effectKind struct {
	// inTurn changes the turn's result for e and returns the outputs to
	// render (it may add to outs).
	inTurn func(d *Decider, in TurnInput, res *TurnResult, sess *flows.Session, e flows.Effect, outs []flows.Output) []flows.Output
	// after runs after the commit.
	after func(ctx context.Context, r *Runtime, person string, profile map[string]string, e flows.Effect) error
}

// effectKinds are the kinds the runner itself acts on. Kinds it leaves to
// modules (record, schedule, escalate's case is written by Decide) are
// absent.
var effectKinds = map[string]effectKind{
	flows.EffectLanguage:    language,
	flows.EffectStop:        stop,
	flows.EffectStart:       start,
	flows.EffectSubscribe:   subscribe,
	flows.EffectUnsubscribe: unsubscribe,
	flows.EffectDelete:      erase,
	flows.EffectClear:       clearChat,
	flows.EffectMyData:      myDataEffect,
	flows.EffectSafeWord:    safeWord,
}

// inTurn applies e's in-turn part, if its kind has one.
func (d *Decider) inTurn(in TurnInput, res *TurnResult, sess *flows.Session, e flows.Effect, outs []flows.Output) []flows.Output {
	if k := effectKinds[e.Kind]; k.inTurn != nil {
		return k.inTurn(d, in, res, sess, e, outs)
	}
	return outs
}

// afterCommit carries out a committed turn's effects: the runner's own
// after parts, then the modules' handlers for each kind. After an erasure
// only the erasure's handlers run (the others would act on a person who is
// gone).
func (r *Runtime) afterCommit(ctx context.Context, person string, profile map[string]string, e flows.Effect, wiped bool) error {
	if wiped && e.Kind != flows.EffectDelete {
		return nil
	}
	if k := effectKinds[e.Kind]; k.after != nil {
		if err := k.after(ctx, r, person, profile, e); err != nil {
			return err
		}
	}
	for _, h := range r.effects[e.Kind] {
		h(ctx, person, profile, e)
	}
	for _, h := range r.effects[""] {
		h(ctx, person, profile, e)
	}
	return nil
}

// handles reports whether anything acts on an effect of kind after the
// commit: an effect nobody handles is not queued.
func (r *Runtime) handles(kind string) bool {
	return effectKinds[kind].after != nil || len(r.effects[kind]) > 0 || len(r.effects[""]) > 0
}

// pendingEffect is one effect waiting on the effect queue, sealed: it
// carries the person's profile as it was before the turn.
type pendingEffect struct {
	Person  string            `json:"person"`
	Profile map[string]string `json:"profile"`
	Effect  flows.Effect      `json:"effect"`
	Wiped   bool              `json:"wiped,omitempty"`
}

func (r *Runtime) sealEffect(p pendingEffect) []byte { return r.sealer.SealJSON(p) }

// handleEffect carries out one queued effect. An error leaves the entry to
// be tried again.
func (r *Runtime) handleEffect(ctx context.Context, _ string, e store.Entry) (acked bool, err error) {
	var p pendingEffect
	if err := r.sealer.OpenJSON(e.Payload, &p); err != nil {
		r.log.Error("queued effect unreadable; dropped", "event", "effect_unreadable", "error", err)
		return false, nil
	}
	if err := r.afterCommit(ctx, p.Person, p.Profile, p.Effect, p.Wiped); err != nil {
		r.log.Warn("effect not applied; will retry", "event", "effect_failed", "person", p.Person, "kind", p.Effect.Kind, "error", err)
		return false, err
	}
	return false, nil
}
