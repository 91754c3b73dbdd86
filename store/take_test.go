package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestTaking: what AcceptTaking and CommitTaking take is what a read of the
// queue would have returned, and nothing else: each entry once, pending
// for the consumer that took it (so a dead consumer's are claimed as any
// read), never read again by anyone; with no consumer, or no group yet,
// nothing is taken and the entries wait for a read.
func TestTaking(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { _ = st.DeleteAll(ctx) })
		accept := func(person, id, consumer string) []store.Entry {
			t.Helper()
			fresh, taken, err := st.AcceptTaking(ctx, store.Accepted{Person: person, MessageID: id, Channel: "test",
				Sealed: []byte("hello"), Address: []byte("addr"), At: time.Now()}, consumer)
			if err != nil || !fresh {
				t.Fatalf("accept %s/%s: %v, %v", person, id, fresh, err)
			}
			return taken
		}
		// No group yet: nothing taken, and the accept still holds.
		if got := accept("early", "m1", "c1"); len(got) != 0 {
			t.Fatalf("took %v before the group existed", got)
		}
		work := st.ShardedQueue(st.WorkStreams(), store.WorkGroup)
		if err := work.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		// A message accepted without a taker waits for a read.
		if got := accept("waiting", "m1", ""); len(got) != 0 {
			t.Fatalf("took %v without a consumer", got)
		}
		// A later taker would take them with its own (all that is unread
		// on its shard's stream); a read takes them first here.
		read, err := work.Read(ctx, "c2", 500, -1)
		if err != nil || len(read) != 2 {
			t.Fatalf("read %d entries (%v), want the 2 accepted with nobody taking", len(read), err)
		}
		// Many people at once (batched): every entry taken once, by
		// someone, with the person it names.
		const people = 100
		var mu sync.Mutex
		seen := map[string]int{}
		persons := map[string]bool{}
		var wg sync.WaitGroup
		for i := range people {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got := accept(fmt.Sprint("p", i), "m1", "c1")
				mu.Lock()
				defer mu.Unlock()
				for _, e := range got {
					seen[e.Stream+"/"+e.ID]++
					persons[string(e.Payload)] = true
				}
			}()
		}
		wg.Wait()
		// A read finds nothing: everything was taken.
		if read, err = work.Read(ctx, "c2", 500, -1); err != nil || len(read) != 0 {
			t.Errorf("read %+v (%v) after everything was taken", read, err)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("entry %s taken %d times", k, n)
			}
		}
		if len(seen) != people || len(persons) != people {
			t.Errorf("%d entries taken for %d people; want %d", len(seen), len(persons), people)
		}
		// Taken entries are the consumer's own pending ones.
		own := 0
		if err := work.EachOwn(ctx, "c1", 256, func(es []store.Entry) { own += len(es) }); err != nil {
			t.Fatal(err)
		}
		if own != people {
			t.Errorf("c1 has %d pending entries, want %d", own, people)
		}

		// With a begin token the taken entry comes with the person's turn
		// begun, as Begin loads it; while that lock is held, a later
		// accept begins none, and the turn commits as any.
		acceptBegin := func(id, tok string) store.Entry {
			t.Helper()
			_, taken, err := st.AcceptTaking(ctx, store.Accepted{Person: "b1", MessageID: id, Channel: "test",
				Sealed: []byte(id), Address: []byte("addr"), At: time.Now(), Value: "value of " + id,
				BeginToken: tok, BeginTTL: time.Minute, BeginMax: 16}, "c1")
			if err != nil || len(taken) != 1 {
				t.Fatalf("accept %s: %+v, %v", id, taken, err)
			}
			return taken[0]
		}
		e := acceptBegin("m1", "turn-1")
		if e.Begun == nil || e.Token != "turn-1" || len(e.Begun.Inbox) != 1 || string(e.Begun.Inbox[0]) != "m1" || e.Begun.Profile["ch"] != "test" {
			t.Fatalf("begun %+v under %q; want m1's turn under turn-1", e.Begun, e.Token)
		}
		if len(e.Begun.Values) != 1 || e.Begun.Values[0] != "value of m1" {
			t.Errorf("begun turn's values %v; want m1's", e.Begun.Values)
		}
		if _, err := st.Begin(ctx, "b1", "another", time.Minute, 16); err != store.ErrLocked {
			t.Errorf("another worker's Begin: %v, want ErrLocked", err)
		}
		if e2 := acceptBegin("m2", "turn-2"); e2.Begun != nil {
			t.Errorf("begun %+v while turn-1 holds the person", e2.Begun)
		}
		if left, err := st.Commit(ctx, e.Begun, store.Commit{Handled: 1}); err != nil || left != 1 {
			t.Errorf("commit of the begun turn: %d, %v; want m2 left", left, err)
		}
		// A turn begun with an earlier message waiting holds both, the
		// value beside the message it came with.
		if _, err := st.Accept(ctx, store.Accepted{Person: "b2", MessageID: "n1", Channel: "test", Sealed: []byte("n1"), Address: []byte("addr"), At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		_, taken, err := st.AcceptTaking(ctx, store.Accepted{Person: "b2", MessageID: "n2", Channel: "test",
			Sealed: []byte("n2"), Address: []byte("addr"), At: time.Now(), Value: "value of n2",
			BeginToken: "turn-b2", BeginTTL: time.Minute, BeginMax: 16}, "c1")
		var b2 *store.Turn
		for _, e := range taken {
			if string(e.Payload) == "b2" && e.Begun != nil {
				b2 = e.Begun
			}
		}
		if err != nil || b2 == nil || len(b2.Inbox) != 2 || string(b2.Inbox[0]) != "n1" || string(b2.Inbox[1]) != "n2" ||
			len(b2.Values) != 2 || b2.Values[0] != nil || b2.Values[1] != "value of n2" {
			t.Errorf("begun with n1 waiting: %+v, %v; want n1 and n2, n2's value beside it", b2, err)
		}
		// Read from Redis, a turn knows no values.
		if turn, err := st.Begin(ctx, "b1", "turn-1", time.Minute, 16); err != nil || len(turn.Inbox) != 1 || turn.Values != nil {
			t.Errorf("Begin after the commit: %+v, %v; want m2 without values", turn, err)
		}

		// A commit takes its deliveries' outbound entries for the
		// delivery's consumer.
		out := st.ShardedQueue(st.OutStreams("test"), store.SendGroup)
		if err := out.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		turn, err := st.Begin(ctx, "p1", "tok", time.Minute, 16)
		if err != nil || len(turn.Inbox) != 1 {
			t.Fatalf("begin: %v, %v", turn, err)
		}
		left, taken, err := st.CommitTaking(ctx, turn, store.Commit{Handled: 1, Deliveries: []store.Queued{
			{Channel: "test", ID: "d1", Sealed: []byte("a"), Take: "s1"},
			{Channel: "test", ID: "d2", Sealed: []byte("b")},
		}})
		if err != nil || left != 0 {
			t.Fatalf("commit: %d, %v", left, err)
		}
		if len(taken) != 1 || string(taken[0].Payload) != "p1" || taken[0].Again {
			t.Fatalf("commit took %+v, want the first delivery's entry", taken)
		}
		if ch, ok := st.OutChannel(taken[0].Stream); !ok || ch != "test" {
			t.Errorf("OutChannel(%q) = %q, %v", taken[0].Stream, ch, ok)
		}
		rest, err := out.Read(ctx, "s2", 10, -1)
		if err != nil || len(rest) != 1 || rest[0].ID == taken[0].ID {
			t.Errorf("read after the commit: %+v, %v; want the second delivery's entry only", rest, err)
		}
		if taken[0].Next != nil {
			t.Errorf("a commit without a send token handed over a delivery: %+v", taken[0].Next)
		}

		// With a send token the taken entry comes with the person's
		// sending lock and oldest delivery, as NextOutbound gives them;
		// while that lock is held, a later commit hands over none.
		commit := func(id, tok string) []store.Entry {
			t.Helper()
			if _, err := st.Accept(ctx, store.Accepted{Person: "p1", MessageID: id, Channel: "test", Sealed: []byte("x"), Address: []byte("addr"), At: time.Now()}); err != nil {
				t.Fatal(err)
			}
			turn, err := st.Begin(ctx, "p1", "tok", time.Minute, 16)
			if err != nil {
				t.Fatal(err)
			}
			_, taken, err := st.CommitTaking(ctx, turn, store.Commit{Handled: len(turn.Inbox), SendToken: tok,
				Deliveries: []store.Queued{{Channel: "test", ID: "d-" + id, Sealed: []byte(id), Take: "s1"}}})
			if err != nil || len(taken) != 1 {
				t.Fatalf("commit %s: %+v, %v", id, taken, err)
			}
			return taken
		}
		got := commit("m3", "send-1")
		if n := got[0].Next; n == nil || n.ID != "d1" || string(n.Sealed) != "a" || got[0].Token != "send-1" {
			t.Fatalf("handed over %+v with token %q; want the oldest delivery d1 under send-1", n, got[0].Token)
		}
		if got[0].Next.Value != nil {
			t.Errorf("handed over d1 with a value %v it was not queued with", got[0].Next.Value)
		}
		if _, err := st.NextOutbound(ctx, "p1", "another", time.Minute); err != store.ErrLocked {
			t.Errorf("another sender's NextOutbound: %v, want ErrLocked", err)
		}
		if got := commit("m4", "send-2"); got[0].Next != nil {
			t.Errorf("handed over %+v while send-1 holds the person", got[0].Next)
		}
		if o, err := st.NextOutbound(ctx, "p1", "send-1", time.Minute); err != nil || o == nil || o.ID != "d1" {
			t.Errorf("the holder's NextOutbound: %+v, %v", o, err)
		}

		// A delivery handed over by the commit that queued it comes back
		// with the value it was queued with: its sender need not open it.
		// Read from Redis, it has none.
		if err := st.DeletePerson(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Accept(ctx, store.Accepted{Person: "p1", MessageID: "m5", Channel: "test", Sealed: []byte("x"), Address: []byte("addr"), At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		turn, err = st.Begin(ctx, "p1", "tok", time.Minute, 16)
		if err != nil {
			t.Fatal(err)
		}
		_, taken, err = st.CommitTaking(ctx, turn, store.Commit{Handled: len(turn.Inbox), SendToken: "send-3",
			Deliveries: []store.Queued{{Channel: "test", ID: "d-m5", Sealed: []byte("m5"), Take: "s1", Value: "plain m5"}}})
		var next *store.Outgoing
		for _, e := range taken {
			if e.Next != nil {
				next = e.Next
			}
		}
		if err != nil || next == nil || next.ID != "d-m5" || next.Value != "plain m5" {
			t.Errorf("handed over %+v, %v; want d-m5 with its value", next, err)
		}
		if o, err := st.NextOutbound(ctx, "p1", "send-3", time.Minute); err != nil || o == nil || o.ID != "d-m5" || o.Value != nil {
			t.Errorf("NextOutbound: %+v, %v; want d-m5 without a value", o, err)
		}
	})
}

// TestAckWithTheLastScript: the commit that empties a person's inbox
// acknowledges and deletes the work entry that brought the turn, and the
// record that empties their outbox the outbound entry; one that leaves
// something waiting acknowledges nothing, nor does either for an entry of
// a stream that is not the person's.
func TestAckWithTheLastScript(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { _ = st.DeleteAll(ctx) })
		work := st.ShardedQueue(st.WorkStreams(), store.WorkGroup)
		out := st.ShardedQueue(st.OutStreams("test"), store.SendGroup)
		for _, q := range []*store.Queue{work, out} {
			if err := q.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
		}
		accept := func(id string) {
			t.Helper()
			if _, err := st.Accept(ctx, store.Accepted{Person: "a1", MessageID: id, Channel: "test", Sealed: []byte(id), Address: []byte("addr"), At: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		read := func(q *store.Queue, n int) store.Entry {
			t.Helper()
			es, err := q.Read(ctx, "c1", 10, -1)
			if err != nil || len(es) != n {
				t.Fatalf("read %+v, %v; want %d entries", es, err, n)
			}
			return es[0]
		}
		depth := func(q *store.Queue) int64 {
			t.Helper()
			n, err := q.Depth(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		accept("m1")
		e := read(work, 1)
		accept("m2")
		read(work, 1) // m2's entry, pending
		turn, err := st.Begin(ctx, "a1", "tok", time.Minute, 1)
		if err != nil {
			t.Fatal(err)
		}
		// m2 still waits: the entry is not acknowledged.
		if left, err := st.Commit(ctx, turn, store.Commit{Handled: 1, Ack: e}); err != nil || left != 1 || turn.Acked || depth(work) != 2 {
			t.Fatalf("commit with m2 waiting: left %d, acked %v, depth %d, %v", left, turn.Acked, depth(work), err)
		}
		// An entry that is not the person's shard's is left alone.
		foreign := store.Entry{Stream: st.WorkStreams()[(store.ShardOf("a1")+1)%store.Shards], ID: e.ID}
		turn, _ = st.Begin(ctx, "a1", "tok", time.Minute, 1)
		if _, err := st.Commit(ctx, turn, store.Commit{Handled: 1, Ack: foreign}); err != nil || turn.Acked || depth(work) != 2 {
			t.Fatalf("commit acknowledging another shard's entry: acked %v, depth %d, %v", turn.Acked, depth(work), err)
		}
		accept("m3")
		e3 := read(work, 1)
		turn, _ = st.Begin(ctx, "a1", "tok", time.Minute, 1)
		if left, err := st.Commit(ctx, turn, store.Commit{Handled: 1, Ack: e3,
			Deliveries: []store.Queued{{Channel: "test", ID: "d1", Sealed: []byte("a")}, {Channel: "test", ID: "d2", Sealed: []byte("b")}}}); err != nil || left != 0 || !turn.Acked || depth(work) != 2 {
			t.Fatalf("commit emptying the inbox: left %d, acked %v, depth %d (want m1's and m2's entries), %v", left, turn.Acked, depth(work), err)
		}

		// The outbox: the record that leaves d2 waiting keeps the entry.
		oe := read(out, 2)
		o, err := st.NextOutbound(ctx, "a1", "send", time.Minute)
		if err != nil || o == nil {
			t.Fatal(o, err)
		}
		o.Ack = oe
		if more, err := st.MarkSent(ctx, "a1", "send", o, 1, true, 0, time.Now()); err != nil || !more || o.Acked || depth(out) != 2 {
			t.Fatalf("record with d2 waiting: more %v, acked %v, depth %d, %v", more, o.Acked, depth(out), err)
		}
		o, _ = st.NextOutbound(ctx, "a1", "send", time.Minute)
		o.Ack = oe
		if more, err := st.MarkSent(ctx, "a1", "send", o, 1, false, 0, time.Now()); err != nil || !more || o.Acked {
			t.Fatalf("record of a message before the last: more %v, acked %v, %v", more, o.Acked, err)
		}
		if more, err := st.MarkSent(ctx, "a1", "send", o, 2, true, 0, time.Now()); err != nil || more || !o.Acked || depth(out) != 1 {
			t.Fatalf("record emptying the outbox: more %v, acked %v, depth %d, %v", more, o.Acked, depth(out), err)
		}
	})
}
