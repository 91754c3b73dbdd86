package runner

import (
	"context"
	"time"
)

// Cases: escalations recorded with the turn, for the coach module.
// Case is an escalation as the runtime records it on the case stream,
// sealed: who, why, how urgent, and a short excerpt of what the person last
// wrote (kept only on the case, and only until it expires there).
type Case struct {
	Person   string    `json:"person"`
	Reason   string    `json:"reason"`
	Priority string    `json:"priority"`
	Value    string    `json:"value,omitempty"` // e.g. the job a person is interested in
	Lang     string    `json:"lang,omitempty"`
	Channel  string    `json:"ch,omitempty"`
	At       time.Time `json:"at"`
	Excerpt  []string  `json:"excerpt,omitempty"`
}

// maxExcerpt is how many of the person's last messages a case carries.
const maxExcerpt = 3

func (r *Runtime) sealCase(c Case) []byte { return r.sealer.SealJSON(c) }

// OpenCase decodes a sealed case from the case stream.
func (r *Runtime) OpenCase(sealed []byte) (Case, error) {
	var c Case
	return c, r.sealer.OpenJSON(sealed, &c)
}

// Escalate records a case for person from outside a turn (a missed
// check-in's welfare call).
func (r *Runtime) Escalate(ctx context.Context, person, reason, priority, value string) error {
	p, err := r.store.Profile(ctx, person)
	if err != nil {
		return err
	}
	c := Case{Person: person, Reason: reason, Priority: priority, Value: value, Lang: p["lang"], Channel: p["ch"], At: r.now()}
	_, err = r.store.CaseQueue().Add(ctx, r.sealCase(c))
	return err
}
