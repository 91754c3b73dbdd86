package store_test

import (
	"context"
	"testing"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestMarkReachable: the unreachable flag follows the latest change by
// sequence number, once each; nothing else in the profile moves, and an
// unknown person gets no profile.
func TestMarkReachable(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if err := st.SetProfile(ctx, "p1", map[string]string{"ch": "telegram", "stopped": "1", "ci.paused": "1"}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			seq       int64
			reachable bool
			applied   bool
			flag      string
		}{
			{10, false, true, "1"},
			{10, false, false, "1"}, // repeated
			{12, true, true, ""},
			{11, false, false, ""}, // older, late
			{12, false, false, ""},
			{13, false, true, "1"},
			{14, true, true, ""},
		}
		for _, s := range steps {
			applied, err := st.MarkReachable(ctx, "p1", s.seq, s.reachable)
			if err != nil {
				t.Fatal(err)
			}
			p, err := st.Profile(ctx, "p1")
			if err != nil {
				t.Fatal(err)
			}
			if applied != s.applied || p["unreachable"] != s.flag {
				t.Errorf("seq %d reachable %v: applied %v, flag %q; want %v, %q", s.seq, s.reachable, applied, p["unreachable"], s.applied, s.flag)
			}
			if p["stopped"] != "1" || p["ci.paused"] != "1" || p["ch"] != "telegram" {
				t.Errorf("seq %d changed other fields: %v", s.seq, p)
			}
		}
		if applied, err := st.MarkReachable(ctx, "nobody", 20, false); err != nil || applied {
			t.Errorf("unknown person: applied %v, %v", applied, err)
		}
		if p, _ := st.Profile(ctx, "nobody"); len(p) != 0 {
			t.Errorf("unknown person got a profile: %v", p)
		}
		if _, err := st.MarkReachable(ctx, "p1", 0, false); err == nil {
			t.Error("sequence number 0 accepted")
		}
	})
}
