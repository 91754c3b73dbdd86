package broadcast

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/store"
)

// Config tunes a Service. The zero value of every field but Runtime is
// usable.
type Config struct {
	Runtime *runner.Runtime
	// Quiet are the local hours when nothing but an urgent broadcast is
	// sent (QUIET_HOURS).
	Quiet bot.QuietHours
	// DefaultTZ is the time zone of a person who chose none.
	DefaultTZ *time.Location
	// Clock tells the time; time.Now when nil.
	Clock func() time.Time
	Log   *slog.Logger
	// Consumer names this process in the chunk consumer groups; unique
	// among processes sharing Redis (default: random).
	Consumer string
	// Workers is how many chunks this process sends at once (default 4).
	Workers int
	// Batch is how many person ids one chunk holds (default 500).
	Batch int
	// Poll is how often an idle worker looks for work (default 1s).
	Poll time.Duration
	// ClaimIdle is how long a chunk may stay unacknowledged before another
	// process takes it over (default 30s, as the runtime's queues: a
	// process sending a chunk renews its hold every 100 people, which
	// takes well under a second).
	ClaimIdle time.Duration
	// MaxBacklog holds a broadcast back while a channel's outbound queue
	// is longer than this, so Redis does not fill up with queued messages
	// faster than the channel may send them (default 2000; negative: off).
	MaxBacklog int64
	// ButtonChannels are the channels whose buttons reach the runtime's
	// actions (default: telegram). Elsewhere a job alert tells the person
	// to write COACH and the job's code.
	ButtonChannels []string
	// DigestEvery is how often the job digest goes out (default 7 days).
	DigestEvery time.Duration
}

// Service runs broadcasts, reminders and job alerts on one Runtime.
type Service struct {
	cfg Config
	rt  *runner.Runtime
	st  *store.Store
	log *slog.Logger
	now func() time.Time

	// testHook, when set, is called after each person's outcome is
	// recorded (tests use it to stop a process mid-broadcast).
	testHook func(person, outcome string)
	testStop func()
}

// New returns a Service for cfg.Runtime.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.DefaultTZ == nil {
		cfg.DefaultTZ = time.UTC
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "bc-" + newID(10)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.ClaimIdle <= 0 {
		cfg.ClaimIdle = 30 * time.Second
	}
	if cfg.MaxBacklog == 0 {
		cfg.MaxBacklog = 2000
	}
	if cfg.ButtonChannels == nil {
		cfg.ButtonChannels = []string{"telegram"}
	}
	if cfg.DigestEvery <= 0 {
		cfg.DigestEvery = 7 * 24 * time.Hour
	}
	st := cfg.Runtime.Store()
	return &Service{cfg: cfg, rt: cfg.Runtime, st: st, log: cfg.Log, now: cfg.Clock}
}

// Kinds of broadcast.
const (
	KindBroadcast = "broadcast" // staff's own words or a message id
	KindReminder  = "reminder"  // one round of the rights reminder series
	KindJob       = "job"       // an instant job alert
	KindDigest    = "digest"    // the weekly job digest
)

// Statuses of a broadcast.
const (
	StatusScheduled = "scheduled"
	StatusSending   = "sending"
	StatusPaused    = "paused"
	StatusDone      = "done"
	StatusCancelled = "cancelled"
)

// Audience narrows who receives a broadcast. Each list, when not empty,
// must match: languages against the person's language (the default
// language when they chose none), channels against their channel, tags
// against profile flags "tag.<name>" or subscriptions "sub.<name>".
type Audience struct {
	Languages []string `json:"languages,omitempty"`
	Channels  []string `json:"channels,omitempty"`
	Tags      []string `json:"tags,omitempty"`
}

// Spec is what staff ask for.
type Spec struct {
	// Text is the message in each language staff wrote, shown as plain
	// text; it must include the default language.
	Text map[string]string `json:"text,omitempty"`
	// MessageID instead names a message of the locales.
	MessageID string   `json:"message_id,omitempty"`
	Audience  Audience `json:"audience,omitzero"`
	// SendAt is when to start (now when zero).
	SendAt time.Time `json:"send_at,omitzero"`
	// Urgent broadcasts ignore quiet hours.
	Urgent bool `json:"urgent,omitempty"`
}

// plan is a broadcast as stored: the spec and what the kind needs.
type plan struct {
	Kind string `json:"kind"`
	Spec
	// Job is the job of a job alert.
	Job string `json:"job,omitempty"`
	// Since is the start of a digest's week.
	Since time.Time `json:"since,omitzero"`
}

// Status is a broadcast's progress.
type Status struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	// Total is the people of the audience found so far: final once the
	// broadcast is done.
	Total   int64 `json:"total"`
	Sent    int64 `json:"sent"`
	Skipped int64 `json:"skipped"`
	Failed  int64 `json:"failed"`
	// Waiting are people whose message waits for the end of their quiet
	// hours.
	Waiting   int64     `json:"waiting"`
	SendAt    time.Time `json:"send_at"`
	CreatedAt time.Time `json:"created_at"`
}

// Errors the API maps to answers.
var (
	// ErrNotFound: no broadcast or job with that id.
	ErrNotFound = errors.New("not found")
	// ErrState: the broadcast cannot go to that status from its own.
	ErrState = errors.New("not possible in the broadcast's current status")
)

// InvalidError is a request staff must correct.
type InvalidError struct {
	Reason string
	// Failed lists the fair-recruitment checks a job failed.
	Failed []string
}

func (e *InvalidError) Error() string { return e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// MaxTextRunes is the longest broadcast text accepted.
const MaxTextRunes = 1600

// createBroadcast validates spec and schedules a broadcast; it returns
// its id.
func (s *Service) createBroadcast(ctx context.Context, spec Spec) (string, error) {
	if err := s.validate(&spec); err != nil {
		return "", err
	}
	return s.create(ctx, "", plan{Kind: KindBroadcast, Spec: spec}, s.st.PeopleKey())
}

func (s *Service) validate(spec *Spec) error {
	cat := s.rt.Content().Catalog
	if (len(spec.Text) == 0) == (spec.MessageID == "") {
		return invalid("give either text (by language) or message_id")
	}
	if spec.MessageID != "" {
		if cat.Raw(cat.Default(), spec.MessageID) == "" {
			return invalid("message_id %q is not in the %s locale", spec.MessageID, cat.Default())
		}
		if vars := cat.VarsIn(cat.Default(), spec.MessageID); len(vars) > 0 && !s.packSupplies(vars) {
			return invalid("message_id %q needs template variables %v", spec.MessageID, vars)
		}
	}
	clean := map[string]string{}
	for lang, text := range spec.Text {
		if !cat.Has(lang) {
			return invalid("text: language %q is not loaded (have %v)", lang, cat.Languages())
		}
		text = strings.TrimSpace(bot.CleanText(text, 0))
		if strings.TrimSpace(text) == "" {
			return invalid("text: the %s text is empty", lang)
		}
		if utf8.RuneCountInString(text) > MaxTextRunes {
			return invalid("text: the %s text is longer than %d characters", lang, MaxTextRunes)
		}
		clean[lang] = text
	}
	if len(spec.Text) > 0 {
		if clean[cat.Default()] == "" {
			return invalid("text: give the default language %q too (people without their own language get it)", cat.Default())
		}
		spec.Text = clean
	}
	for _, l := range spec.Audience.Languages {
		if !cat.Has(l) {
			return invalid("audience: language %q is not loaded (have %v)", l, cat.Languages())
		}
	}
	return nil
}

func (s *Service) packSupplies(vars []string) bool {
	data := s.rt.Content().Data()
	for _, v := range vars {
		if _, ok := data[v]; !ok {
			return false
		}
	}
	return true
}

// create stores a broadcast reading its audience from the set source. A
// non-empty id makes the creation idempotent (a series' round).
func (s *Service) create(ctx context.Context, id string, p plan, source string) (string, error) {
	now := s.now()
	if p.SendAt.IsZero() {
		p.SendAt = now
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	if id == "" {
		id = newID(12)
	}
	status := StatusScheduled
	if !p.SendAt.After(now) {
		status = StatusSending
	}
	created, err := s.st.CreateBroadcast(ctx, store.NewBroadcast{ID: id, Kind: p.Kind, Plan: raw, Status: status,
		SendAt: p.SendAt, Created: now, Source: source})
	if err != nil {
		return "", err
	}
	if created {
		s.log.Info("broadcast created", "event", "broadcast_created", "broadcast", id, "kind", p.Kind, "status", status)
	}
	return id, nil
}

// Get returns a broadcast's progress.
func (s *Service) Get(ctx context.Context, id string) (Status, error) {
	b, err := s.st.Broadcast(ctx, id)
	if err != nil {
		return Status{}, err
	}
	if b == nil {
		return Status{}, ErrNotFound
	}
	st := Status{ID: id, Kind: b.Kind, Status: b.Status, Sent: b.Sent, Skipped: b.Skipped, Failed: b.Failed,
		Waiting: b.Waiting, SendAt: b.SendAt, CreatedAt: b.Created}
	st.Total = st.Sent + st.Skipped + st.Failed + st.Waiting
	return st, nil
}

// List returns the latest broadcasts, newest first.
func (s *Service) List(ctx context.Context, limit int) ([]Status, error) {
	ids, err := s.st.LatestBroadcasts(ctx, limit)
	if err != nil {
		return nil, err
	}
	return found(ctx, ids, s.Get, nil)
}

// found gets each of ids in order with get, leaving out those it no
// longer finds (ErrNotFound) and handing those to gone, when not nil.
func found[T any](ctx context.Context, ids []string, get func(context.Context, string) (T, error), gone func(id string)) ([]T, error) {
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		v, err := get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			if gone != nil {
				gone(id)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// pause stops sending until Resume.
func (s *Service) pause(ctx context.Context, id string) error {
	return s.transition(ctx, id, StatusPaused, StatusScheduled, StatusSending)
}

// resume sends a paused broadcast again (or waits for its send_at).
func (s *Service) resume(ctx context.Context, id string) error {
	return s.transition(ctx, id, StatusSending, StatusPaused)
}

// cancel stops a broadcast for good; nobody not yet served gets it.
func (s *Service) cancel(ctx context.Context, id string) error {
	if err := s.transition(ctx, id, StatusCancelled, StatusScheduled, StatusSending, StatusPaused); err != nil {
		return err
	}
	s.cleanup(ctx, id)
	return nil
}

func (s *Service) transition(ctx context.Context, id, to string, from ...string) error {
	moved, cur, err := s.st.SetBroadcastStatus(ctx, id, to, s.now(), from...)
	switch {
	case err != nil:
		return err
	case moved:
		if to == StatusCancelled || to == StatusDone {
			// Left active, it is dropped by the next step that reads it.
			if err := s.st.DeactivateBroadcast(ctx, id); err != nil {
				s.log.Warn("broadcast left in the active set", "event", "broadcast_deactivate_failed", "broadcast", id, "error", err)
			}
		}
		s.log.Info("broadcast status changed", "event", "broadcast_"+to, "broadcast", id)
		return nil
	case cur == "":
		return ErrNotFound
	}
	return fmt.Errorf("%w: it is %s", ErrState, cur)
}

// cleanup drops a finished broadcast's working keys, keeping its counts.
func (s *Service) cleanup(ctx context.Context, id string) {
	if err := s.st.EndBroadcast(ctx, id, keepFinished); err != nil {
		s.log.Warn("broadcast keys not removed", "event", "broadcast_cleanup_failed", "broadcast", id, "error", err)
	}
}

// keepFinished is how long a finished broadcast's counts stay readable.
const keepFinished = 180 * 24 * time.Hour

// matches reports whether a profile is in the audience.
func (a Audience) matches(profile map[string]string, lang string) bool {
	if len(a.Languages) > 0 && !slices.Contains(a.Languages, lang) {
		return false
	}
	if len(a.Channels) > 0 && !slices.Contains(a.Channels, profile["ch"]) {
		return false
	}
	if len(a.Tags) > 0 {
		ok := false
		for _, t := range a.Tags {
			if profile["tag."+t] == "1" || profile["sub."+t] == "1" {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// idAlphabet has no letters easily confused (0/O, 1/I/L), so a code can be
// read out or typed on a phone.
const idAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

func newID(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(idAlphabet)))
	for i := range b {
		x, _ := rand.Int(rand.Reader, max)
		b[i] = idAlphabet[x.Int64()]
	}
	return string(b)
}

// validID keeps ids from the API to the shape we make, so they cannot
// reach into other keys.
func validID(id string) bool {
	if id == "" || len(id) > 40 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
