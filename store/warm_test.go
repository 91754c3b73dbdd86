package store_test

import (
	"context"
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
// makes it write nothing of the turn and accept the message the usual way
// instead, in the same script, on every backend.
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
		commit := func(w *store.Warm, a store.Accepted) (tn *store.Turn, warm, fresh bool, err error) {
			tn = w.Turn(a)
			warm, fresh, _, err = st.AcceptTurn(ctx, a, "", w, tn, store.Commit{Session: []byte(`{"n":2}`),
				Profile:    map[string]string{store.TransientPrefix + "n": "2"},
				Deliveries: []store.Queued{{Channel: "test", ID: "d-" + a.MessageID, Sealed: []byte("reply")}}})
			return tn, warm, fresh, err
		}

		t.Run("committed once", func(t *testing.T) {
			w := warm("w1")
			tn := w.Turn(msg("w1", 2))
			if string(tn.Session) != `{"n":1}` || tn.Profile["lang"] != "fr" || tn.Profile[store.TransientPrefix+"n"] != "1" ||
				tn.Profile["ch"] != "test" || tn.Profile["last"] != "1800000000002" || len(tn.Inbox) != 1 {
				t.Fatalf("the warm turn is not what Begin would load: %+v", tn)
			}
			tn, warm, fresh, err := commit(w, msg("w1", 2))
			if err != nil || !warm || !fresh {
				t.Fatalf("warm turn: warm %v, fresh %v, %v", warm, fresh, err)
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
			if _, warm, fresh, err := commit(tn.Warm, msg("w1", 2)); err != nil || !warm || fresh {
				t.Errorf("a repeated message: warm %v, fresh %v, %v", warm, fresh, err)
			}
			// The state the warm turn left serves the next message.
			if _, warm, fresh, err := commit(tn.Warm, msg("w1", 3)); err != nil || !warm || !fresh {
				t.Errorf("the next warm turn: warm %v, fresh %v, %v", warm, fresh, err)
			}
			// An older state does not: the message is accepted the usual
			// way instead.
			if _, warm, fresh, err := commit(w, msg("w1", 4)); err != nil || warm || !fresh {
				t.Errorf("a turn decided from an older state: warm %v, fresh %v, %v", warm, fresh, err)
			}
			if tn, err := st.Begin(ctx, "w1", "tok", time.Minute, 10); err != nil || len(tn.Inbox) != 1 || string(tn.Inbox[0]) != "text 4" {
				t.Errorf("the message of the stale turn is not in the inbox: %+v, %v", tn, err)
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
				sessBefore, _ := st.LoadSession(ctx, p)
				inbox, _ := st.Redis().LLen(ctx, st.PersonKeyNames(p)[2]).Result()
				_, warm, fresh, err := commit(w, msg(p, 2))
				if err != nil || warm || !fresh {
					t.Fatalf("warm turn after %s: warm %v, fresh %v, %v; want the message accepted the usual way", c.name, warm, fresh, err)
				}
				// Nothing of the turn was written: its session, its reply.
				if sess, _ := st.LoadSession(ctx, p); string(sess) != string(sessBefore) {
					t.Errorf("the stale turn wrote the session: %q, then %q", sessBefore, sess)
				}
				if o, err := st.NextOutbound(ctx, p, "s", time.Minute); err != nil || o != nil {
					t.Errorf("the stale turn queued its reply: %+v, %v", o, err)
				}
				// The message was accepted as usual: in the inbox, once.
				if n, _ := st.Redis().LLen(ctx, st.PersonKeyNames(p)[2]).Result(); n != inbox+1 {
					t.Errorf("inbox of %d after the stale turn, want %d", n, inbox+1)
				}
				if fresh, err := st.Accept(ctx, msg(p, 2)); err != nil || fresh {
					t.Errorf("the message again after a stale warm turn: fresh %v, %v", fresh, err)
				}
			})
		}
	})
}
