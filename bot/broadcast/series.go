package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reminders is the state of the rights reminder series: a rotation of the
// short reminders reminder.1, reminder.2, … of the locales, one round
// every Every, to everyone or an audience. People opt out of reminders
// alone in Settings (the profile then has sub.reminders_off).
type Reminders struct {
	On bool `json:"on"`
	// Every is "daily", "weekly", "fortnightly", "monthly" or a Go
	// duration of at least an hour.
	Every    string    `json:"every,omitempty"`
	Audience Audience  `json:"audience,omitzero"`
	NextAt   time.Time `json:"next_at,omitzero"`
	// Round counts the rounds sent; the next round sends reminder number
	// Round mod Count + 1.
	Round int `json:"round"`
	Count int `json:"reminders"`
}

// step returns the function that moves t to the next round.
func interval(every string) (func(time.Time) time.Time, error) {
	switch strings.ToLower(strings.TrimSpace(every)) {
	case "daily":
		return func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }, nil
	case "weekly":
		return func(t time.Time) time.Time { return t.AddDate(0, 0, 7) }, nil
	case "fortnightly":
		return func(t time.Time) time.Time { return t.AddDate(0, 0, 14) }, nil
	case "monthly":
		return func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }, nil
	}
	d, err := time.ParseDuration(every)
	if err != nil || d < time.Hour {
		return nil, invalid("every must be daily, weekly, fortnightly, monthly or a duration of at least 1h (like 720h)")
	}
	return func(t time.Time) time.Time { return t.Add(d) }, nil
}

// nextAfter moves t on by step until it is after now, so a long stop does
// not send a burst of rounds.
func nextAfter(t, now time.Time, step func(time.Time) time.Time) time.Time {
	for !t.After(now) {
		t = step(t)
	}
	return t
}

// reminderIDs are the reminders of the rotation, in order.
func (s *Service) reminderIDs() []string {
	cat := s.rt.Content().Catalog
	var ids []string
	for i := 1; ; i++ {
		id := "reminder." + strconv.Itoa(i)
		if cat.Raw(cat.Default(), id) == "" {
			return ids
		}
		ids = append(ids, id)
	}
}

// startReminders switches the series on (or changes it): the first round
// goes at first (now when zero), then one every every. The rotation goes
// on where it stopped.
func (s *Service) startReminders(ctx context.Context, every string, aud Audience, first time.Time) (Reminders, error) {
	if _, err := interval(every); err != nil {
		return Reminders{}, err
	}
	if err := s.validate(&Spec{MessageID: "reminder.1", Audience: aud}); err != nil {
		return Reminders{}, err
	}
	if first.IsZero() {
		first = s.now()
	}
	a, _ := json.Marshal(aud)
	if err := s.st.StartReminders(ctx, every, a, first); err != nil {
		return Reminders{}, err
	}
	s.log.Info("reminders on", "event", "reminders_on", "every", every)
	return s.RemindersStatus(ctx)
}

// stopReminders switches the series off; rounds already started finish.
func (s *Service) stopReminders(ctx context.Context) error {
	if err := s.st.StopReminders(ctx); err != nil {
		return err
	}
	s.log.Info("reminders off", "event", "reminders_off")
	return nil
}

// RemindersStatus returns the series' state.
func (s *Service) RemindersStatus(ctx context.Context) (Reminders, error) {
	m, err := s.st.Reminders(ctx)
	if err != nil {
		return Reminders{}, err
	}
	r := Reminders{On: m.On, Every: m.Every, Round: m.Round, Count: len(s.reminderIDs())}
	if r.On {
		r.NextAt = m.Next
	}
	if m.Audience != nil {
		_ = json.Unmarshal(m.Audience, &r.Audience)
	}
	return r, nil
}

// schedule starts the reminder and digest rounds that are due.
func (s *Service) schedule(ctx context.Context) {
	if err := s.remindersDue(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("reminder round not started", "event", "reminders_failed", "error", err)
	}
	if _, err := s.digestDue(ctx, false); err != nil && ctx.Err() == nil {
		s.log.Warn("job digest not started", "event", "digest_failed", "error", err)
	}
}

func (s *Service) remindersDue(ctx context.Context) error {
	m, err := s.st.Reminders(ctx)
	if err != nil || !m.On {
		return err
	}
	now := s.now()
	next := orEpoch(m.Next)
	if next.UnixMilli() > now.UnixMilli() {
		return nil
	}
	step, err := interval(m.Every)
	if err != nil {
		return err
	}
	ids := s.reminderIDs()
	if len(ids) == 0 {
		return errors.New("no reminder.N messages in the locales")
	}
	var aud Audience
	if m.Audience != nil {
		if err := json.Unmarshal(m.Audience, &aud); err != nil {
			return err
		}
	}
	round := m.Round
	id := fmt.Sprintf("rem-%d", round+1)
	p := plan{Kind: KindReminder, Spec: Spec{MessageID: ids[round%len(ids)], Audience: aud}}
	if _, err := s.create(ctx, id, p, s.st.PeopleKey()); err != nil {
		return err
	}
	return s.st.AdvanceReminders(ctx, round, nextAfter(next, now, step))
}

// orEpoch is t in local time (calendar steps count in it), or the Unix
// epoch for a time never set.
func orEpoch(t time.Time) time.Time {
	if t.IsZero() {
		return time.UnixMilli(0)
	}
	return time.UnixMilli(t.UnixMilli())
}

// sendDigest starts the job digest now, for the jobs posted since the last
// one, whatever the weekly schedule. It returns the broadcast's id, or ""
// when there is nothing new.
func (s *Service) sendDigest(ctx context.Context) (string, error) {
	return s.digestDue(ctx, true)
}

func (s *Service) digestDue(ctx context.Context, force bool) (string, error) {
	now := s.now()
	m, err := s.st.Digest(ctx, now.Add(s.cfg.DigestEvery), now.Add(-s.cfg.DigestEvery))
	if err != nil {
		return "", err
	}
	next, since := orEpoch(m.Next), orEpoch(m.Since)
	if !force && next.UnixMilli() > now.UnixMilli() {
		return "", nil
	}
	round := m.Round
	n, err := s.st.CountJobsSince(ctx, since)
	if err != nil {
		return "", err
	}
	id := ""
	if n > 0 {
		id = fmt.Sprintf("digest-%d", round+1)
		p := plan{Kind: KindDigest, Since: since}
		if _, err := s.create(ctx, id, p, s.st.PeopleKey()); err != nil {
			return "", err
		}
	}
	due := nextAfter(next, now, func(t time.Time) time.Time { return t.Add(s.cfg.DigestEvery) })
	return id, s.st.AdvanceDigest(ctx, round, due, now)
}
