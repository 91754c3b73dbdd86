package runner

import (
	"context"

	"github.com/lifeline-org/lifeline/flows"
)

// DELETE: the commit erases everything under the person's own keys; after
// it, the person leaves the people index, and Redis rewrites its
// append-only file so the values leave its files too.
var erase = effectKind{
	inTurn: func(_ *Decider, _ TurnInput, res *TurnResult, _ *flows.Session, _ flows.Effect, outs []flows.Output) []flows.Output {
		res.Wipe = true
		return outs
	},
	after: func(ctx context.Context, r *Runtime, person string, _ map[string]string, _ flows.Effect) error {
		return r.store.Forget(ctx, person)
	},
}
