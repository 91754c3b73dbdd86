package broadcast

import (
	"context"
	"fmt"
)

// Reach is how many people a broadcast to an audience would reach, by
// the language they would get it in; Unreachable counts those it matches
// but would skip (stopped, no address, or a channel that failed them).
type Reach struct {
	People      int            `json:"people"`
	ByLanguage  map[string]int `json:"by_language"`
	Unreachable int            `json:"unreachable"`
}

// Reach counts the audience now: what a broadcast sent at once would
// reach, person by person as the sending does.
func (s *Service) Reach(ctx context.Context, aud Audience) (Reach, error) {
	r := Reach{ByLanguage: map[string]int{}}
	err := s.eachProfile(ctx, func(p map[string]string) {
		lang := s.rt.Language(p)
		if !aud.matches(p, lang) {
			return
		}
		if !reachable(p) {
			r.Unreachable++
			return
		}
		r.People++
		r.ByLanguage[lang]++
	})
	return r, err
}

func reachable(p map[string]string) bool {
	return p["addr"] != "" && p["stopped"] != "1" && p["unreachable"] != "1"
}

// eachProfile calls f with every person's profile, once each.
func (s *Service) eachProfile(ctx context.Context, f func(map[string]string)) error {
	seen := map[string]bool{} // SSCAN may return a member twice
	var cursor uint64
	for {
		ids, next, err := s.st.ScanAudience(ctx, s.st.PeopleKey(), cursor, s.cfg.Batch)
		if err != nil {
			return fmt.Errorf("read the people: %w", err)
		}
		profs, err := s.st.Profiles(ctx, ids)
		if err != nil {
			return fmt.Errorf("read the people: %w", err)
		}
		for i, p := range profs {
			if len(p) == 0 || seen[ids[i]] {
				continue
			}
			seen[ids[i]] = true
			f(p)
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// JobReach is what the console shows beside a job: how many people its
// alert matches now (subscribed to alerts, reachable, its sector and
// place), and how many asked about it ("I'm interested": each opened a
// case).
type JobReach struct {
	Matches  int   `json:"matches"`
	Interest int64 `json:"interest"`
}

// JobReaches counts each job's matches and interest in one pass over the
// people.
func (s *Service) JobReaches(ctx context.Context, jobs []Job) (map[string]JobReach, error) {
	out := make(map[string]JobReach, len(jobs))
	for _, j := range jobs {
		n, err := s.st.JobInterest(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		out[j.ID] = JobReach{Interest: n}
	}
	err := s.eachProfile(ctx, func(p map[string]string) {
		if alerts, _ := subscribed(p); !alerts || !reachable(p) {
			return
		}
		for _, j := range jobs {
			if jobMatches(&j, p) {
				r := out[j.ID]
				r.Matches++
				out[j.ID] = r
			}
		}
	})
	return out, err
}
