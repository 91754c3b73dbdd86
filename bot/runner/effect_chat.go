package runner

import (
	"maps"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
)

// CLEAR and MY DATA change only what the turn answers.

var clearChat = effectKind{
	inTurn: func(_ *Decider, in TurnInput, res *TurnResult, _ *flows.Session, _ flows.Effect, outs []flows.Output) []flows.Output {
		res.Clear = true
		if !in.CanClear {
			outs = append(outs, flows.Output{Msg: flows.MsgClearNoop})
		}
		return outs
	},
}

var myDataEffect = effectKind{
	inTurn: func(d *Decider, in TurnInput, res *TurnResult, sess *flows.Session, _ flows.Effect, outs []flows.Output) []flows.Output {
		merged := maps.Clone(in.Profile)
		maps.Copy(merged, res.Profile)
		var plan *bot.Plan
		var notes []bot.Note
		if in.Kept != nil {
			plan, notes = in.Kept()
		}
		summary := d.myData(sessLang(sess, d.content), sess, merged, plan, notes)
		return append([]flows.Output{{Msg: myDataMsg, Data: map[string]string{"summary": summary}}}, outs...)
	},
}

// The safe word is kept only as a keyed hash, never as the word.
var safeWord = effectKind{
	inTurn: func(d *Decider, _ TurnInput, res *TurnResult, sess *flows.Session, _ flows.Effect, outs []flows.Output) []flows.Output {
		if w := flows.Fold(sess.Fields["safeword"]); w != "" {
			res.Profile["safeword"] = d.hash("safeword", w)
		}
		delete(sess.Fields, "safeword")
		return outs
	},
}
