package runner

import (
	"context"
	"strconv"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/store"
)

// Retention erases people who have been silent for longer than Days: one
// last notice first, then, if they stay silent for Grace, everything about
// them goes as if they had asked for it.
type Retention struct {
	Days      int
	Grace     time.Duration
	Quiet     bot.QuietHours
	DefaultTZ *time.Location
}

// DefaultGrace is how long a person has to answer the last notice.
const DefaultGrace = 7 * 24 * time.Hour

// SweepRetention runs one pass over everyone at now. It returns how many
// people were sent the notice and how many were erased.
func (r *Runtime) SweepRetention(ctx context.Context, now time.Time, ret Retention) (noticed, erased int, err error) {
	if ret.Grace == 0 {
		ret.Grace = DefaultGrace
	}
	limit := time.Duration(ret.Days) * 24 * time.Hour
	var cursor uint64
	for {
		var people []string
		people, cursor, err = r.store.ScanPeople(ctx, cursor, 500)
		if err != nil {
			return noticed, erased, err
		}
		for _, person := range people {
			p, err := r.store.Profile(ctx, person)
			if err != nil {
				return noticed, erased, err
			}
			last := store.Millis(p["last"])
			if last.IsZero() || now.Sub(last) < limit {
				continue
			}
			notice := store.Millis(p["retention_notice"])
			switch {
			case notice.IsZero() || notice.Before(last):
				if p["stopped"] == "" && p["unreachable"] == "" {
					loc := bot.Location(p["tz"], ret.DefaultTZ)
					if !ret.Quiet.Next(now, loc).Equal(now) {
						continue // quiet hours where they are: next pass
					}
					text := r.Render(r.Language(p), "retention.notice", nil)
					// Once per silence: a pass that stops before recording the
					// notice does not send it again.
					if _, err := r.SendOnce(ctx, person, "retention:"+p["last"], []bot.Outbound{{Text: text, Purpose: "retention"}}); err != nil {
						return noticed, erased, err
					}
				}
				if err := r.store.SetProfile(ctx, person, map[string]string{"retention_notice": strconv.FormatInt(now.UnixMilli(), 10)}); err != nil {
					return noticed, erased, err
				}
				noticed++
			case now.Sub(notice) >= ret.Grace:
				gone, err := r.erase(ctx, person, p)
				if err != nil {
					return noticed, erased, err
				}
				if gone {
					erased++
				}
			}
		}
		if cursor == 0 {
			return noticed, erased, nil
		}
	}
}

// erase removes everything about a person outside a turn, as their own
// DELETE would: their keys, their place in every set, and what the other
// modules keep (through the effect handlers).
func (r *Runtime) erase(ctx context.Context, person string, profile map[string]string) (bool, error) {
	// Only if they are still silent: a message arriving meanwhile (or a
	// turn or send under way) keeps them, with everything they had.
	gone, err := r.store.ErasePersonIfSilent(ctx, person, profile["last"])
	if err != nil || !gone {
		return false, err
	}
	if err := r.afterCommit(ctx, person, profile, flows.Effect{Kind: flows.EffectDelete}, true); err != nil {
		return true, err
	}
	r.log.Info("silent person erased", "event", "retention_erased", "person", person)
	return true, nil
}

// RunRetention sweeps once a day until ctx ends; a Redis lock lets one
// process sweep when several run.
func (r *Runtime) RunRetention(ctx context.Context, ret Retention) error {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		ok, err := r.store.TakeLease(ctx, "retention", r.cfg.Consumer, 23*time.Hour)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("retention lease not taken", "event", "retention_failed", "error", err)
		}
		if err == nil && ok {
			n, e, err := r.SweepRetention(ctx, r.now(), ret)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("retention sweep failed", "event", "retention_failed", "error", err)
			} else {
				r.log.Info("retention sweep done", "event", "retention_done", "noticed", n, "erased", e)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
