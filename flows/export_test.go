package flows

import "time"

// StepCounted is Step that also reports how many nodes the turn entered,
// for tests outside the package (FuzzEngineInput checks it against Step).
func StepCounted(d *Definition, s Session, in Input, now time.Time) (Session, []Output, []Effect, int) {
	t := &turn{d: d, s: s.Clone()}
	if t.s.Fields == nil {
		t.s.Fields = map[string]string{}
	}
	t.s.Seen = now
	t.handle(in)
	return t.s, t.out, t.eff, t.steps
}

// ValidateEffect checks an effect as content loading does.
func ValidateEffect(e Effect) error { return e.validate() }
