package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestWarmTurn: a message accepted with a turn decided from the state the
// last commit left is recorded and committed in one script, once; and
// whatever changed the person's state since (a profile field, the session,
// a transient field, a message waiting, a turn under way, an erasure)
// makes it write nothing and say so, on every backend.
func TestWarmTurn(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { _ = st.DeleteAll(ctx) })
		msg := func(person string, n int) store.Accepted {
			id := strconv.Itoa(n)
			return store.Accepted{Person: person, MessageID: "m" + id, Channel: "test", Sealed: []byte("text " + id),
				Address: []byte("addr"), At: time.UnixMilli(int64(1_800_000_000_000 + n)), PlatformMsg: int64(n)}
		}
		// warm runs a person's first turn the usual way and returns the
		// state its commit left.
		warm := func(person string) *store.Warm {
			t.Helper()
			if _, err := st.Accept(ctx, msg(person, 1)); err != nil {
				t.Fatal(err)
			}
			tn, err := st.Begin(ctx, person, "tok", time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Commit(ctx, tn, store.Commit{Handled: 1, Session: []byte(`{"n":1}`),
				Profile: map[string]string{"lang": "fr", store.TransientPrefix + "n": "1"}})
			if err != nil || tn.Warm == nil {
				t.Fatalf("the first commit left no warm state: %v", err)
			}
			return tn.Warm
		}
		commit := func(w *store.Warm, a store.Accepted) (*store.Turn, bool, error) {
			tn := w.Turn(a)
			fresh, _, err := st.AcceptTurn(ctx, a, w, tn, store.Commit{Session: []byte(`{"n":2}`),
				Profile:    map[string]string{store.TransientPrefix + "n": "2"},
				Deliveries: []store.Queued{{Channel: "test", ID: "d-" + a.MessageID, Sealed: []byte("reply")}}})
			return tn, fresh, err
		}

		t.Run("committed once", func(t *testing.T) {
			w := warm("w1")
			tn := w.Turn(msg("w1", 2))
			if string(tn.Session) != `{"n":1}` || tn.Profile["lang"] != "fr" || tn.Profile[store.TransientPrefix+"n"] != "1" ||
				tn.Profile["ch"] != "test" || tn.Profile["last"] != "1800000000002" || len(tn.Inbox) != 1 {
				t.Fatalf("the warm turn is not what Begin would load: %+v", tn)
			}
			tn, fresh, err := commit(w, msg("w1", 2))
			if err != nil || !fresh {
				t.Fatalf("warm turn: %v, %v", fresh, err)
			}
			sess, _ := st.LoadSession(ctx, "w1")
			p, _ := st.Profile(ctx, "w1")
			if string(sess) != `{"n":2}` || p["last"] != "1800000000002" || p["lang"] != "fr" {
				t.Errorf("after the warm turn: session %q, profile %v", sess, p)
			}
			if recent, _ := st.Recent(ctx, "w1", time.Time{}); len(recent) != 2 {
				t.Errorf("platform ids kept for clearing: %v, want the two messages'", recent)
			}
			if o, err := st.NextOutbound(ctx, "w1", "s", time.Minute); err != nil || o == nil || o.ID != "d-m2" {
				t.Errorf("the reply was not queued: %+v, %v", o, err)
			}
			// The message again (a platform's retry): nothing twice.
			if _, fresh, err := commit(tn.Warm, msg("w1", 2)); err != nil || fresh {
				t.Errorf("a repeated message: fresh %v, %v", fresh, err)
			}
			// The state the warm turn left serves the next message.
			if _, fresh, err := commit(tn.Warm, msg("w1", 3)); err != nil || !fresh {
				t.Errorf("the next warm turn: %v, %v", fresh, err)
			}
			// An older state does not.
			if _, _, err := commit(w, msg("w1", 4)); !errors.Is(err, store.ErrStale) {
				t.Errorf("a turn decided from an older state: %v, want ErrStale", err)
			}
		})

		for _, c := range []struct {
			name   string
			change func(t *testing.T, person string)
		}{
			{"a coach set a field", func(t *testing.T, p string) {
				if err := st.SetProfile(ctx, p, map[string]string{"relay": "A7"}); err != nil {
					t.Fatal(err)
				}
			}},
			{"a field was deleted", func(t *testing.T, p string) {
				if err := st.SetProfile(ctx, p, map[string]string{"lang": ""}); err != nil {
					t.Fatal(err)
				}
			}},
			{"the transient fields expired", func(t *testing.T, p string) {
				keys := st.PersonKeyNames(p)
				if err := st.Redis().Del(ctx, keys[len(keys)-1]).Err(); err != nil { // the transient fields' hash
					t.Fatal(err)
				}
			}},
			{"another turn wrote the session", func(t *testing.T, p string) {
				if _, err := st.Accept(ctx, msg(p, 5)); err != nil {
					t.Fatal(err)
				}
				tn, err := st.Begin(ctx, p, "other", time.Minute, 10)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Commit(ctx, tn, store.Commit{Handled: 1, Session: []byte(`{"n":1}`)}); err != nil {
					t.Fatal(err)
				}
			}},
			{"a message waits", func(t *testing.T, p string) {
				if _, err := st.Accept(ctx, msg(p, 5)); err != nil {
					t.Fatal(err)
				}
			}},
			{"a turn is under way", func(t *testing.T, p string) {
				if _, err := st.Accept(ctx, msg(p, 5)); err != nil {
					t.Fatal(err)
				}
				if _, err := st.Begin(ctx, p, "other", time.Minute, 10); err != nil {
					t.Fatal(err)
				}
			}},
			{"the person was erased", func(t *testing.T, p string) {
				if err := st.DeletePerson(ctx, p); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := "stale " + c.name
				w := warm(p)
				c.change(t, p)
				before, _ := st.Profile(ctx, p)
				if _, _, err := commit(w, msg(p, 2)); !errors.Is(err, store.ErrStale) {
					t.Fatalf("warm turn after %s: %v, want ErrStale", c.name, err)
				}
				after, _ := st.Profile(ctx, p)
				if after["last"] != before["last"] {
					t.Errorf("the stale turn wrote the profile: %v, then %v", before, after)
				}
				// Nothing of the message was kept: accepted now, it is new.
				if fresh, err := st.Accept(ctx, msg(p, 2)); err != nil || !fresh {
					t.Errorf("the message after a stale warm turn: fresh %v, %v", fresh, err)
				}
			})
		}
	})
}
