package runner

import (
	"github.com/lifeline-org/lifeline/flows"
)

// Subscriptions: the profile names each topic the person joined
// ("sub.<topic>", in the commit). Nothing else keeps them: a broadcast to a
// topic reads the people index and each profile (a set of each topic's
// subscribers cost about 70 bytes of Redis a person a topic). The modules'
// handlers still hear of each change after the commit.
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
	}
}
