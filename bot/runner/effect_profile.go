package runner

import (
	"github.com/lifeline-org/lifeline/flows"
)

// The person's language, and STOP and START: profile fields, changed in
// the turn's commit. Modules act on stop and start after it (check-ins
// pause, a case closes).

var language = effectKind{
	inTurn: func(_ *Decider, _ TurnInput, res *TurnResult, _ *flows.Session, e flows.Effect, outs []flows.Output) []flows.Output {
		res.Profile["lang"] = e.Value
		return outs
	},
}

var stop = effectKind{
	inTurn: func(_ *Decider, _ TurnInput, res *TurnResult, _ *flows.Session, _ flows.Effect, outs []flows.Output) []flows.Output {
		res.Profile["stopped"] = "1"
		return outs
	},
}

var start = effectKind{
	inTurn: func(_ *Decider, _ TurnInput, res *TurnResult, _ *flows.Session, _ flows.Effect, outs []flows.Output) []flows.Output {
		res.Profile["stopped"] = ""
		return outs
	},
}
