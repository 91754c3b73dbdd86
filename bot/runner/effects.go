package runner

import (
	"context"
	"strings"

	"github.com/lifeline-org/lifeline/flows"
)

// afterCommit carries out the effects that touch keys outside the person's
// own (global sets) and hands the rest to the hooks (recorded answers are
// counted by gender and age band in bot/checkin's figures).
func (r *Runtime) afterCommit(ctx context.Context, person string, profile map[string]string, effects []flows.Effect, wiped bool) {
	if len(effects) == 0 {
		return
	}
	rdb := r.store.Redis()
	pipe := rdb.Pipeline()
	for _, e := range effects {
		switch e.Kind {
		case flows.EffectSubscribe:
			pipe.SAdd(ctx, r.store.Key("sub", e.Topic), person)
		case flows.EffectUnsubscribe:
			pipe.SRem(ctx, r.store.Key("sub", e.Topic), person)
		case flows.EffectDelete:
			// Every topic set the person joined is named in their profile.
			for f := range profile {
				if topic, ok := strings.CutPrefix(f, "sub."); ok {
					pipe.SRem(ctx, r.store.Key("sub", topic), person)
				}
			}
			for _, topic := range []string{"checkins", "jobs", "reminders"} {
				pipe.SRem(ctx, r.store.Key("sub", topic), person)
			}
			pipe.SRem(ctx, r.store.PeopleKey(), person)
			// Rewrite the append-only file so the erased values leave
			// Redis's files too (an error just means AOF is off or a
			// rewrite is already running).
			defer func() { _ = r.store.Redis().BgRewriteAOF(ctx).Err() }()
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		r.log.Warn("effects not all applied", "event", "effects_failed", "person", person, "error", err)
	}
	for _, e := range effects {
		if wiped && e.Kind != flows.EffectDelete {
			continue
		}
		for _, h := range r.cfg.Hooks.Effects {
			h(ctx, person, profile, e)
		}
	}
}
