package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditEntry is one staff or coach action: who did what to which thing.
// Actors are named by role and pseudonym, never by account or number.
type AuditEntry struct {
	ID     string
	At     time.Time
	Actor  string // e.g. "staff", "coach:3fq…"
	Action string // e.g. "broadcast.create", "case.claim"
	Target string // e.g. a broadcast id or a case alias
}

// AuditKey is the append-only audit stream. Nothing in Lifeline trims or
// deletes it.
func (s *Store) AuditKey() string { return s.ns + ":audit" }

// Audit appends an entry to the audit stream.
func (s *Store) Audit(ctx context.Context, at time.Time, actor, action, target string) error {
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.AuditKey(), Values: []any{
		"at", at.UTC().Format(time.RFC3339), "actor", actor, "action", action, "target", target,
	}}).Err()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// AuditLog returns up to count entries after the entry id after ("" for the
// first), oldest first.
func (s *Store) AuditLog(ctx context.Context, after string, count int64) ([]AuditEntry, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	msgs, err := s.rdb.XRangeN(ctx, s.AuditKey(), start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return auditEntries(msgs), nil
}

// AuditRecent returns up to count of the latest entries, newest first.
func (s *Store) AuditRecent(ctx context.Context, count int64) ([]AuditEntry, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.AuditKey(), "+", "-", count).Result()
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return auditEntries(msgs), nil
}

func auditEntries(msgs []redis.XMessage) []AuditEntry {
	out := make([]AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		e := AuditEntry{ID: m.ID}
		e.At, _ = time.Parse(time.RFC3339, fmt.Sprint(m.Values["at"]))
		e.Actor, _ = m.Values["actor"].(string)
		e.Action, _ = m.Values["action"].(string)
		e.Target, _ = m.Values["target"].(string)
		out = append(out, e)
	}
	return out
}
