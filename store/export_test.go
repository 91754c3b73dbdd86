package store

import (
	"testing"
	"time"
)

// SetFinalMarkPatience makes the records of last messages wait d for
// company, until the test ends.
func SetFinalMarkPatience(t testing.TB, d time.Duration) {
	old := finalMarkPatience
	finalMarkPatience = d
	t.Cleanup(func() { finalMarkPatience = old })
}

// Waiting is how many calls of the hot scripts wait to go to Redis (not
// those on their way).
func (s *Store) Waiting() int {
	s.batches.mu.Lock()
	defer s.batches.mu.Unlock()
	n := 0
	for _, g := range s.batches.groups {
		n += len(g.pending)
	}
	return n
}
