package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func accept(t *testing.T, st *store.Store, person, mid, text string) bool {
	t.Helper()
	ok, err := st.Accept(context.Background(), store.Accepted{
		Person: person, MessageID: mid, Channel: "console", Sealed: []byte(text), Address: []byte("addr"), At: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestStore(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Run("accept dedupes by message id", func(t *testing.T) {
			if !accept(t, st, "p1", "m1", "hello") || accept(t, st, "p1", "m1", "hello") {
				t.Fatal("want first accepted, second a duplicate")
			}
			if !accept(t, st, "p1", "m2", "again") {
				t.Fatal("a new id must be accepted")
			}
			q := st.ShardedQueue(st.WorkStreams(), store.WorkGroup)
			if err := q.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			if n, _ := q.Depth(ctx); n != 2 {
				t.Fatalf("work items = %d, want 2", n)
			}
		})
		t.Run("a person who writes is reachable again", func(t *testing.T) {
			accept(t, st, "p9", "u1", "hello")
			if err := st.SetProfile(ctx, "p9", map[string]string{"unreachable": "1"}); err != nil {
				t.Fatal(err)
			}
			accept(t, st, "p9", "u2", "I changed my number back")
			if p, _ := st.Profile(ctx, "p9"); p["unreachable"] != "" {
				t.Fatalf("still unreachable after writing: %v", p)
			}
		})
		t.Run("turn loads inbox, session and profile; commit saves and queues", func(t *testing.T) {
			accept(t, st, "p2", "a", "one")
			accept(t, st, "p2", "b", "two")
			tr, err := st.Begin(ctx, "p2", "tok", time.Minute, 16)
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Inbox) != 2 || string(tr.Inbox[0]) != "one" || tr.Profile["ch"] != "console" || tr.Profile["addr"] != "addr" {
				t.Fatalf("begin: %+v", tr)
			}
			if _, err := st.Begin(ctx, "p2", "other", time.Minute, 16); !errors.Is(err, store.ErrLocked) {
				t.Fatalf("second worker: got %v, want ErrLocked", err)
			}
			sess := []byte(`{"v":1,"person":"p2","session":{"flow":"menu","node":"main","fields":{"lang":"es"},"prompt":3}}`)
			left, err := st.Commit(ctx, tr, store.Commit{Handled: 2, Session: sess, Profile: map[string]string{"lang": "es"},
				Deliveries: []store.Queued{{Channel: "console", Sealed: []byte("reply")}}})
			if err != nil || left != 0 {
				t.Fatalf("commit: left %d, %v", left, err)
			}
			got, err := st.LoadSession(ctx, "p2")
			if err != nil || string(got) != string(sess) {
				t.Fatalf("session %s, %v", got, err)
			}
			if _, err := st.Begin(ctx, "p2", "other", time.Minute, 16); err != nil {
				t.Fatalf("lock not released after an empty inbox: %v", err)
			}
			if _, err := st.Begin(ctx, "p2", "third", time.Minute, 16); err != nil {
				t.Fatalf("a begin on an empty inbox took the lock: %v", err)
			}
			q := st.ShardedQueue(st.OutStreams("console"), store.SendGroup)
			_ = q.Ensure(ctx)
			es, err := q.Read(ctx, "c1", 10, 0)
			if err != nil || len(es) != 1 || string(es[0].Payload) != "p2" {
				t.Fatalf("outbound notice %v, %v", es, err)
			}
			if o, err := st.NextOutbound(ctx, "p2", "s", time.Minute); err != nil || o == nil || string(o.Sealed) != "reply" {
				t.Fatalf("outbox %+v, %v", o, err)
			}
		})
		t.Run("a lost lock refuses the commit", func(t *testing.T) {
			accept(t, st, "p3", "a", "x")
			tr, err := st.Begin(ctx, "p3", "tok", 50*time.Millisecond, 16)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(120 * time.Millisecond) // let the lock expire (real TTL)
			if _, err := st.Begin(ctx, "p3", "thief", time.Minute, 16); err != nil {
				t.Skipf("backend does not expire keys in real time: %v", err)
			}
			if _, err := st.Commit(ctx, tr, store.Commit{Handled: 1}); !errors.Is(err, store.ErrLockLost) {
				t.Fatalf("got %v, want ErrLockLost", err)
			}
		})
		// That a session copied to another person does not load is the
		// envelope's to check: flows.TestSessionEnvelope.
		t.Run("the next turn gets the session as it was kept; nil keeps it", func(t *testing.T) {
			if tr, err := st.Begin(ctx, "p4", "tok", time.Minute, 1); err != nil || tr.Session != nil {
				t.Fatalf("a person never seen: %+v, %v; want no session", tr, err)
			}
			accept(t, st, "p4", "a", "x")
			tr, _ := st.Begin(ctx, "p4", "tok", time.Minute, 1)
			kept := []byte(`{"v":1,"person":"p4","session":{"flow":"menu"}}`)
			if _, err := st.Commit(ctx, tr, store.Commit{Handled: 1, Session: kept}); err != nil {
				t.Fatal(err)
			}
			accept(t, st, "p4", "b", "y")
			tr, err := st.Begin(ctx, "p4", "tok", time.Minute, 1)
			if err != nil || string(tr.Session) != string(kept) {
				t.Fatalf("next turn's session %s, %v", tr.Session, err)
			}
			if _, err := st.Commit(ctx, tr, store.Commit{Handled: 1}); err != nil {
				t.Fatal(err)
			}
			if got, err := st.LoadSession(ctx, "p4"); err != nil || string(got) != string(kept) {
				t.Fatalf("after a commit without a session: %s, %v", got, err)
			}
		})
		t.Run("wipe erases the person but still queues the goodbye", func(t *testing.T) {
			accept(t, st, "p6", "a", "x")
			tr, _ := st.Begin(ctx, "p6", "tok", time.Minute, 1)
			if _, err := st.Commit(ctx, tr, store.Commit{Handled: 1, Wipe: true, Deliveries: []store.Queued{{Channel: "gone", Sealed: []byte("bye")}}}); err != nil {
				t.Fatal(err)
			}
			n, _ := st.Redis().Exists(ctx, st.PersonKeyNames("p6")[:7]...).Result()
			if n != 0 {
				t.Fatalf("%d keys of the person remain", n)
			}
			if l, _ := st.QueueDepth(ctx, st.OutStreams("gone")...); l != 1 {
				t.Fatalf("goodbye not queued")
			}
			if o, err := st.NextOutbound(ctx, "p6", "tok", time.Minute); err != nil || o == nil {
				t.Fatalf("goodbye not in the outbox: %v", err)
			}
		})
		t.Run("outbox sends in order and remembers what was sent", func(t *testing.T) {
			for _, id := range []string{"d1", "d2"} {
				if _, err := st.Enqueue(ctx, "p7", store.Queued{Channel: "test", ID: id, Sealed: []byte("payload " + id)}, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			o, err := st.NextOutbound(ctx, "p7", "tok", time.Minute)
			if err != nil || o == nil || o.ID != "d1" || string(o.Sealed) != "payload d1" || o.Sent != 0 {
				t.Fatalf("next = %+v, %v", o, err)
			}
			if _, err := st.NextOutbound(ctx, "p7", "other", time.Minute); !errors.Is(err, store.ErrLocked) {
				t.Fatalf("a second sender: %v, want ErrLocked", err)
			}
			if _, err := st.MarkSent(ctx, "p7", "tok", o, 1, false, 42, t0); err != nil {
				t.Fatal(err)
			}
			// A crash here: the next sender resumes after the sent message.
			_ = st.UnlockSending(ctx, "p7", "tok")
			o, _ = st.NextOutbound(ctx, "p7", "tok2", time.Minute)
			if o.ID != "d1" || o.Sent != 1 {
				t.Fatalf("resume = %+v, want d1 with 1 sent", o)
			}
			if more, err := st.MarkSent(ctx, "p7", "tok2", o, 2, true, 0, t0); err != nil || !more {
				t.Fatalf("more %v, %v: d2 still waits", more, err)
			}
			o, _ = st.NextOutbound(ctx, "p7", "tok2", time.Minute)
			if o == nil || o.ID != "d2" {
				t.Fatalf("then %+v, want d2", o)
			}
			if more, err := st.MarkSent(ctx, "p7", "tok2", o, 1, true, 0, t0); err != nil || more {
				t.Fatalf("more %v, %v: the outbox is empty", more, err)
			}
			if _, err := st.NextOutbound(ctx, "p7", "someone-else", time.Minute); err != nil {
				t.Fatalf("the lock was not released with the last delivery: %v", err)
			}
			if o, err := st.NextOutbound(ctx, "p7", "tok2", time.Minute); o != nil || err != nil {
				t.Fatalf("empty outbox: %+v, %v", o, err)
			}
			recent, _ := st.Recent(ctx, "p7", t0.Add(-time.Hour))
			if len(recent) != 1 || recent[0] != "out:42" {
				t.Fatalf("recent = %v", recent)
			}
		})
		t.Run("a delivery with a once key is queued once", func(t *testing.T) {
			for i, want := range []bool{true, false} {
				ok, err := st.Enqueue(ctx, "p9", store.Queued{Channel: "test", ID: fmt.Sprint("b", i), Sealed: []byte("news"), Once: "bc:1"}, t0)
				if err != nil || ok != want {
					t.Fatalf("enqueue %d: %v, %v; want %v", i, ok, err, want)
				}
			}
			if ok, err := st.Enqueue(ctx, "p9", store.Queued{Channel: "test", ID: "c", Sealed: []byte("other"), Once: "bc:2"}, t0); err != nil || !ok {
				t.Fatalf("another key: %v, %v", ok, err)
			}
			if n, _ := st.Redis().LLen(ctx, st.PersonKeyNames("p9")[7]).Result(); n != 2 {
				t.Fatalf("outbox holds %d deliveries, want 2", n)
			}
		})
		t.Run("a dead consumer's entries are claimed", func(t *testing.T) {
			q := st.Queue(st.Key("q"), "g")
			if err := q.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			if err := q.Ensure(ctx); err != nil {
				t.Fatalf("Ensure twice: %v", err)
			}
			q.Add(ctx, []byte("job"))
			es, _ := q.Read(ctx, "dead", 10, 0)
			if len(es) != 1 {
				t.Fatalf("read %v", es)
			}
			claimed, err := q.Claim(ctx, "alive", 0, 10)
			if err != nil || len(claimed) != 1 || string(claimed[0].Payload) != "job" {
				t.Fatalf("claimed %v, %v", claimed, err)
			}
			if err := q.Done(ctx, claimed[0]); err != nil {
				t.Fatal(err)
			}
			if n, _ := q.Depth(ctx); n != 0 {
				t.Fatalf("depth %d after done", n)
			}
		})
		t.Run("only one of many workers holds a person", func(t *testing.T) {
			accept(t, st, "p8", "a", "x")
			var wg sync.WaitGroup
			var mu sync.Mutex
			won := 0
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := st.Begin(ctx, "p8", fmt.Sprint("w", i), time.Minute, 1); err == nil {
						mu.Lock()
						won++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if won != 1 {
				t.Fatalf("%d workers got the lock", won)
			}
		})
	})
}

func TestSealer(t *testing.T) {
	k1 := make([]byte, 32)
	k2 := make([]byte, 32)
	k2[0] = 1
	old, _ := store.NewSealer(k1, k1)
	sealed := old.Seal([]byte("+447700900123"))
	rotated, err := store.NewSealer(k1, k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := rotated.Open(sealed)
	if err != nil || string(plain) != "+447700900123" {
		t.Fatalf("old ciphertext after rotation: %q %v", plain, err)
	}
	if store.SealedWith(rotated.Seal([]byte("x"))) != store.KeyID(k2) {
		t.Fatal("new data must be sealed with the new key")
	}
	if old.PersonID("sms", "+1") != rotated.PersonID("sms", "+1") {
		t.Fatal("ids must survive a key rotation")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := old.Open(tampered); !errors.Is(err, store.ErrSealed) {
		t.Fatalf("tampered: %v", err)
	}
	if old.PersonID("sms", "+1") == old.PersonID("telegram", "+1") {
		t.Fatal("ids must differ by channel")
	}
	var lines []string
	if err := rotated.OpenJSON(old.SealJSON([]string{"a", "b"}), &lines); err != nil || len(lines) != 2 || lines[1] != "b" {
		t.Fatalf("JSON sealed under the old key: %q, %v", lines, err)
	}
	if err := old.OpenJSON(tampered, &lines); !errors.Is(err, store.ErrSealed) {
		t.Fatalf("tampered JSON: %v", err)
	}
}

func TestReseal(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, plain *store.Store) {
		ctx := context.Background()
		k1, k2 := make([]byte, 32), make([]byte, 32)
		k2[0] = 2
		// Stores in one namespace on the backend's client, each sealing
		// sessions with its own keys: a process before and after the
		// rotation.
		ns := storetest.Namespace()
		sealing := func(s *store.Sealer) *store.Store { return store.New(plain.Redis(), ns, store.WithSealer(s)) }
		old, _ := store.NewSealer(k1, k1)
		st := sealing(old)
		accept(t, st, "r1", "m", "x")
		st.SetProfile(ctx, "r1", map[string]string{"addr": string(old.Seal([]byte("+15551234")))})
		tr, _ := st.Begin(ctx, "r1", "tok", time.Minute, 1)
		s := []byte(`{"v":1,"person":"r1","session":{"flow":"menu","fields":{"name":"secret"}}}`)
		if _, err := st.Commit(ctx, tr, store.Commit{Handled: 1, Session: s}); err != nil {
			t.Fatal(err)
		}
		rotated, _ := store.NewSealer(k1, k2, k1)
		n, err := st.Reseal(ctx, rotated)
		if err != nil || n != 2 {
			t.Fatalf("resealed %d, %v: want the address and the session", n, err)
		}
		p, _ := st.Profile(ctx, "r1")
		if store.SealedWith([]byte(p["addr"])) != store.KeyID(k2) {
			t.Fatal("address still under the old key")
		}
		onlyNew, _ := store.NewSealer(k1, k2)
		if plain, err := onlyNew.Open([]byte(p["addr"])); err != nil || string(plain) != "+15551234" {
			t.Fatalf("the new key alone cannot read the address: %v", err)
		}
		if got, err := sealing(onlyNew).LoadSession(ctx, "r1"); err != nil || string(got) != string(s) {
			t.Fatalf("session under the new key alone: %s, %v", got, err)
		}
		if n, _ := st.Reseal(ctx, rotated); n != 0 {
			t.Fatalf("a second pass resealed %d", n)
		}
	})
}

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
