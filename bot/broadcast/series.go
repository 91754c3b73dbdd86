package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

func (s *Service) remKey() string    { return s.st.Key("reminders") }
func (s *Service) digestKey() string { return s.st.Key("jobs", "digest") }

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
	err := s.rdb.HSet(ctx, s.remKey(), "on", "1", "every", every, "audience", string(a), "next", first.UnixMilli()).Err()
	if err != nil {
		return Reminders{}, err
	}
	s.log.Info("reminders on", "event", "reminders_on", "every", every)
	return s.RemindersStatus(ctx)
}

// stopReminders switches the series off; rounds already started finish.
func (s *Service) stopReminders(ctx context.Context) error {
	if err := s.rdb.HSet(ctx, s.remKey(), "on", "0").Err(); err != nil {
		return err
	}
	s.log.Info("reminders off", "event", "reminders_off")
	return nil
}

// RemindersStatus returns the series' state.
func (s *Service) RemindersStatus(ctx context.Context) (Reminders, error) {
	m, err := s.rdb.HGetAll(ctx, s.remKey()).Result()
	if err != nil {
		return Reminders{}, err
	}
	r := Reminders{On: m["on"] == "1", Every: m["every"], Count: len(s.reminderIDs())}
	r.Round, _ = strconv.Atoi(m["round"])
	if ms, err := strconv.ParseInt(m["next"], 10, 64); err == nil && r.On {
		r.NextAt = time.UnixMilli(ms).UTC()
	}
	if m["audience"] != "" {
		_ = json.Unmarshal([]byte(m["audience"]), &r.Audience)
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
	m, err := s.rdb.HGetAll(ctx, s.remKey()).Result()
	if err != nil || m["on"] != "1" {
		return err
	}
	now := s.now()
	next, _ := strconv.ParseInt(m["next"], 10, 64)
	if next > now.UnixMilli() {
		return nil
	}
	step, err := interval(m["every"])
	if err != nil {
		return err
	}
	ids := s.reminderIDs()
	if len(ids) == 0 {
		return errors.New("no reminder.N messages in the locales")
	}
	var aud Audience
	if m["audience"] != "" {
		if err := json.Unmarshal([]byte(m["audience"]), &aud); err != nil {
			return err
		}
	}
	round, _ := strconv.Atoi(m["round"])
	id := fmt.Sprintf("rem-%d", round+1)
	p := plan{Kind: KindReminder, Spec: Spec{MessageID: ids[round%len(ids)], Audience: aud}}
	if _, err := s.create(ctx, id, p, s.st.PeopleKey()); err != nil {
		return err
	}
	due := nextAfter(time.UnixMilli(next), now, step)
	return advanceScript.Run(ctx, s.rdb, []string{s.remKey()}, strconv.Itoa(round), round+1, due.UnixMilli(), "", "").Err()
}

// sendDigest starts the job digest now, for the jobs posted since the last
// one, whatever the weekly schedule. It returns the broadcast's id, or ""
// when there is nothing new.
func (s *Service) sendDigest(ctx context.Context) (string, error) {
	return s.digestDue(ctx, true)
}

func (s *Service) digestDue(ctx context.Context, force bool) (string, error) {
	now := s.now()
	first := now.Add(s.cfg.DigestEvery).UnixMilli()
	pipe := s.rdb.Pipeline()
	pipe.HSetNX(ctx, s.digestKey(), "next", first)
	pipe.HSetNX(ctx, s.digestKey(), "since", now.Add(-s.cfg.DigestEvery).UnixMilli())
	all := pipe.HGetAll(ctx, s.digestKey())
	if _, err := pipe.Exec(ctx); err != nil {
		return "", err
	}
	m := all.Val()
	next, _ := strconv.ParseInt(m["next"], 10, 64)
	since, _ := strconv.ParseInt(m["since"], 10, 64)
	if !force && next > now.UnixMilli() {
		return "", nil
	}
	round, _ := strconv.Atoi(m["round"])
	n, err := s.rdb.ZCount(ctx, jobsKey(s.st), strconv.FormatInt(since, 10), "+inf").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", err
	}
	id := ""
	if n > 0 {
		id = fmt.Sprintf("digest-%d", round+1)
		p := plan{Kind: KindDigest, Since: time.UnixMilli(since)}
		if _, err := s.create(ctx, id, p, s.st.Key("sub", topicDigest)); err != nil {
			return "", err
		}
	}
	due := nextAfter(time.UnixMilli(next), now, func(t time.Time) time.Time { return t.Add(s.cfg.DigestEvery) })
	err = advanceScript.Run(ctx, s.rdb, []string{s.digestKey()}, strconv.Itoa(round), round+1, due.UnixMilli(), "since", now.UnixMilli()).Err()
	return id, err
}
