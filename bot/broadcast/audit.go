package broadcast

import (
	"context"
	"time"

	"github.com/lifeline-org/lifeline/bot"
)

// Every staff operation is written to the append-only audit stream (read
// with `lifeline audit`): who (staff), what, and on which broadcast or job.

func (s *Service) audit(ctx context.Context, action, target string) {
	if err := s.st.Audit(ctx, s.now(), bot.Actor(ctx), action, target); err != nil {
		s.log.Error("audit entry not written", "event", "audit_failed", "error", err)
	}
}

// Create validates spec and schedules a broadcast; it returns its id.
func (s *Service) Create(ctx context.Context, spec Spec) (string, error) {
	id, err := s.createBroadcast(ctx, spec)
	return id, s.audited(ctx, "broadcast.create", id, err)
}

// Pause stops sending a broadcast until Resume.
func (s *Service) Pause(ctx context.Context, id string) error {
	return s.audited(ctx, "broadcast.pause", id, s.pause(ctx, id))
}

// Resume sends a paused broadcast again (or waits for its send_at).
func (s *Service) Resume(ctx context.Context, id string) error {
	return s.audited(ctx, "broadcast.resume", id, s.resume(ctx, id))
}

// Cancel stops a broadcast for good; nobody not yet served gets it.
func (s *Service) Cancel(ctx context.Context, id string) error {
	return s.audited(ctx, "broadcast.cancel", id, s.cancel(ctx, id))
}

// PostJob checks a job opening against the fair-recruitment checks and
// posts it; subscribers who match get it.
func (s *Service) PostJob(ctx context.Context, j Job) (Job, error) {
	posted, err := s.postJob(ctx, j)
	return posted, s.audited(ctx, "job.post", posted.ID, err)
}

// DeleteJob removes a job opening.
func (s *Service) DeleteJob(ctx context.Context, id string) error {
	return s.audited(ctx, "job.delete", id, s.deleteJob(ctx, id))
}

// StartReminders switches the rights reminder series on.
func (s *Service) StartReminders(ctx context.Context, every string, aud Audience, first time.Time) (Reminders, error) {
	r, err := s.startReminders(ctx, every, aud, first)
	return r, s.audited(ctx, "reminders.on", every, err)
}

// StopReminders switches the rights reminder series off.
func (s *Service) StopReminders(ctx context.Context) error {
	return s.audited(ctx, "reminders.off", "", s.stopReminders(ctx))
}

// SendDigest sends the weekly job digest now; it returns the broadcast id.
func (s *Service) SendDigest(ctx context.Context) (string, error) {
	id, err := s.sendDigest(ctx)
	return id, s.audited(ctx, "jobs.digest", id, err)
}

// audited writes the audit entry of an operation that succeeded, and
// returns its error.
func (s *Service) audited(ctx context.Context, action, target string, err error) error {
	if err == nil {
		s.audit(ctx, action, target)
	}
	return err
}
