package runner

import (
	"context"

	"github.com/lifeline-org/lifeline/flows"
)

// Subscriptions: the profile names each topic the person joined
// ("sub.<topic>", in the commit), and each topic keeps the set of its
// subscribers for broadcasts (after the commit; adding and removing are
// idempotent).
var (
	subscribe   = topicEffect(true)
	unsubscribe = topicEffect(false)
)

func topicEffect(join bool) effectKind {
	mark := ""
	if join {
		mark = "1"
	}
	return effectKind{
		inTurn: func(_ *Decider, _ TurnInput, res *TurnResult, _ *flows.Session, e flows.Effect, outs []flows.Output) []flows.Output {
			res.Profile["sub."+e.Topic] = mark
			return outs
		},
		after: func(ctx context.Context, r *Runtime, person string, _ map[string]string, e flows.Effect) error {
			return r.store.Subscribe(ctx, e.Topic, person, join)
		},
	}
}
