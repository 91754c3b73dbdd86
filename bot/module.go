package bot

import (
	"context"

	"github.com/lifeline-org/lifeline/flows"
)

// What a module (coaches, check-ins, broadcasts, a channel's own keywords)
// gives the runner: effect handlers and out-of-flow buttons.

// Action answers an out-of-flow button. It runs inside the person's turn,
// so it must not block; it returns what to say and what effects follow
// (the effects reach the effect handlers like any others).
type Action func(person string, profile map[string]string, arg string) ([]flows.Output, []flows.Effect)

// ActionOption returns the option id of an out-of-flow button.
func ActionOption(name, arg string) string { return "x:" + name + ":" + arg }

// EffectHandler carries out an effect for a person. profile is the
// person's profile as loaded before the turn.
type EffectHandler func(ctx context.Context, person string, profile map[string]string, e flows.Effect)
