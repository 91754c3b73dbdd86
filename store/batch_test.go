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

// TestBatchedAccept: many people's messages accepted at once go to Redis
// in fewer script calls than messages, each recorded as if alone; a
// person whose part fails (a key of the wrong type) fails alone.
func TestBatchedAccept(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { _ = st.DeleteAll(ctx) })
		// The broken person's dedupe key is a string, so their ZADD fails.
		broken := "p-broken"
		if err := st.Redis().Set(ctx, st.PersonKeyNames(broken)[4], "x", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		trips := st.CountTrips(nil)
		const people = 200
		var wg sync.WaitGroup
		errs := make([]error, people+1)
		oks := make([]bool, people+1)
		for i := range people + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				person := fmt.Sprint("p", i)
				if i == people {
					person = broken
				}
				oks[i], errs[i] = st.Accept(ctx, store.Accepted{Person: person, MessageID: "m1", Channel: "test",
					Sealed: []byte("hello"), Address: []byte("addr"), At: time.Now()})
			}()
		}
		wg.Wait()
		for i := range people {
			if errs[i] != nil || !oks[i] {
				t.Fatalf("person %d: %v, %v", i, oks[i], errs[i])
			}
		}
		if errs[people] == nil {
			t.Error("the broken person's accept did not fail")
		}
		calls := trips.Snapshot()[store.TripAccept]
		if calls >= people {
			t.Errorf("%d accept calls for %d people: nothing was batched", calls, people)
		}
		t.Logf("%d people accepted in %d script calls", people+1, calls)
		// Each was recorded as alone: a second accept of the same id is a
		// repeat, and the inbox holds the message.
		again, err := st.Accept(ctx, store.Accepted{Person: "p7", MessageID: "m1", Channel: "test", Sealed: []byte("hello"), Address: []byte("addr"), At: time.Now()})
		if err != nil || again {
			t.Errorf("repeat accepted again: %v, %v", again, err)
		}
		turn, err := st.Begin(ctx, "p7", "tok", time.Minute, 10)
		if err != nil || len(turn.Inbox) != 1 || string(turn.Inbox[0]) != "hello" {
			t.Errorf("p7's turn: %+v, %v", turn, err)
		}
	})
}

// TestEachOwnPages: every entry delivered to a consumer and not acked comes
// back from EachOwn once, whatever the shard and however many a page.
func TestEachOwnPages(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { _ = st.DeleteAll(ctx) })
		q := st.ShardedQueue(st.WorkStreams(), store.WorkGroup)
		if err := q.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for i := range 40 {
			person := fmt.Sprint("p", i%7) // several entries in some shards
			if _, err := st.Accept(ctx, store.Accepted{Person: person, MessageID: fmt.Sprint("m", i), Channel: "test",
				Sealed: []byte("x"), Address: []byte("a"), At: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		for {
			es, err := q.Read(ctx, "c1", 100, -1)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) == 0 {
				break
			}
			for _, e := range es {
				want[e.Stream+"/"+e.ID] = true
			}
		}
		if len(want) != 40 {
			t.Fatalf("read %d entries, want 40", len(want))
		}
		got := map[string]int{}
		if err := q.EachOwn(ctx, "c1", 2, func(es []store.Entry) {
			for _, e := range es {
				got[e.Stream+"/"+e.ID]++
			}
		}); err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if got[k] != 1 {
				t.Errorf("%s came back %d times", k, got[k])
			}
		}
		if len(got) != len(want) {
			t.Errorf("EachOwn gave %d entries, want %d", len(got), len(want))
		}
	})
}

// TestTripsSeeLastMessages: the trip counter tells whoever asked when a
// delivery's last message is recorded, and only then, whoever's it is.
func TestTripsSeeLastMessages(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { _ = st.DeleteAll(ctx) })
		var mu sync.Mutex
		var seen []string
		st.CountTrips(func(person string, _ time.Time) {
			mu.Lock()
			seen = append(seen, person)
			mu.Unlock()
		})
		if _, err := st.Enqueue(ctx, "lm1", store.Queued{Channel: "test", ID: "d1", Sealed: []byte("x")}, time.Now()); err != nil {
			t.Fatal(err)
		}
		o, err := st.NextOutbound(ctx, "lm1", "tok", time.Minute)
		if err != nil || o == nil {
			t.Fatal(o, err)
		}
		if _, err := st.MarkSent(ctx, "lm1", "tok", o, 1, false, 7, time.Now()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(seen) != 0 {
			t.Errorf("the first of two messages was seen as the last: %v", seen)
		}
		mu.Unlock()
		if _, err := st.MarkSent(ctx, "lm1", "tok", o, 2, true, 8, time.Now()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 1 || seen[0] != "lm1" {
			t.Errorf("seen %v after the last message; want lm1 once", seen)
		}
	})
}
