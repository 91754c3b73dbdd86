package runner

import (
	"context"

	"github.com/lifeline-org/lifeline/flows"
)

// Subscriptions: the profile names each topic the person joined
// ("sub.<topic>", in the commit), and each topic keeps the set of its
// subscribers for broadcasts (after the commit; adding and removing are
// idempotent).

var subscribe = effectKind{
	inTurn: func(_ *Decider, _ TurnInput, res *TurnResult, _ *flows.Session, e flows.Effect, outs []flows.Output) []flows.Output {
		res.Profile["sub."+e.Topic] = "1"
		return outs
	},
	after: func(ctx context.Context, r *Runtime, person string, _ map[string]string, e flows.Effect) error {
		return r.store.Subscribe(ctx, e.Topic, person, true)
	},
}

var unsubscribe = effectKind{
	inTurn: func(_ *Decider, _ TurnInput, res *TurnResult, _ *flows.Session, e flows.Effect, outs []flows.Output) []flows.Output {
		res.Profile["sub."+e.Topic] = ""
		return outs
	},
	after: func(ctx context.Context, r *Runtime, person string, _ map[string]string, e flows.Effect) error {
		return r.store.Subscribe(ctx, e.Topic, person, false)
	},
}
