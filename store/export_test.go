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
