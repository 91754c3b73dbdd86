package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
	"github.com/redis/go-redis/v9"
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

// sameShard returns n people ids of one shard, so that on Redis Cluster
// too their calls may go in one round trip.
func sameShard(prefix string, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		p := fmt.Sprint(prefix, i)
		if store.ShardOf(p) == store.ShardOf(prefix+"0") {
			out = append(out, p)
		}
	}
	return out
}

// holdFirstScript makes the next script call on st's client wait, once
// it is on its way, until the returned release is called; held is
// closed when it waits.
func holdFirstScript(t *testing.T, st *store.Store) (held <-chan struct{}, release func()) {
	h := &holdHook{held: make(chan struct{}), release: make(chan struct{})}
	h.armed.Store(true)
	st.Redis().AddHook(h)
	var once sync.Once
	release = func() { once.Do(func() { h.armed.Store(false); close(h.release) }) }
	t.Cleanup(release)
	return h.held, release
}

type holdHook struct {
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *holdHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *holdHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); (name == "evalsha" || name == "eval") && h.armed.CompareAndSwap(true, false) {
			close(h.held)
			<-h.release
		}
		return next(ctx, cmd)
	}
}

// TestCallsGoWithOtherScripts: a call waiting behind its own script's
// batch goes with the first batch of any script that leaves before it,
// and a delivery's last record, which waits for company, goes with the
// next accept or commit: one round trip for both, each call answered as
// if alone, even when Redis has lost its scripts.
func TestCallsGoWithOtherScripts(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { _ = st.DeleteAll(ctx) })
		people := sameShard("ride", 4)
		accept := func(person, id string) (bool, error) {
			return st.Accept(ctx, store.Accepted{Person: person, MessageID: id, Channel: "test",
				Sealed: []byte("hi " + id), Address: []byte("addr"), At: time.Now()})
		}

		t.Run("behind its own script", func(t *testing.T) {
			held, release := holdFirstScript(t, st)
			first := make(chan error, 1)
			go func() { _, err := accept(people[0], "a1"); first <- err }()
			<-held // people[0]'s accept is on its way, and held there
			second := make(chan error, 1)
			go func() { _, err := accept(people[1], "b1"); second <- err }()
			waiting(t, st, second, "the second accept went while the first was on its way")
			// A record of a first message (nobody lets it wait) leaves
			// now, and takes the waiting accept with it.
			if _, err := st.Enqueue(ctx, people[2], store.Queued{Channel: "test", ID: "d1", Sealed: []byte("x")}, time.Now()); err != nil {
				t.Fatal(err)
			}
			o, err := st.NextOutbound(ctx, people[2], "tok", time.Minute)
			if err != nil || o == nil {
				t.Fatal(o, err)
			}
			if _, err := st.MarkSent(ctx, people[2], "tok", o, 1, false, 0, time.Now()); err != nil {
				t.Fatal(err)
			}
			answered(t, second, "the waiting accept did not go with the record")
			release()
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			for i, p := range people[:2] {
				turn, err := st.Begin(ctx, p, "t", time.Minute, 10)
				if err != nil || len(turn.Inbox) != 1 {
					t.Errorf("person %d's turn: %+v, %v", i, turn, err)
				}
			}
		})

		t.Run("a last record rides along", func(t *testing.T) {
			store.SetFinalMarkPatience(t, time.Minute)
			person := people[3]
			if _, err := st.Enqueue(ctx, person, store.Queued{Channel: "test", ID: "d2", Sealed: []byte("x")}, time.Now()); err != nil {
				t.Fatal(err)
			}
			o, err := st.NextOutbound(ctx, person, "tok", time.Minute)
			if err != nil || o == nil {
				t.Fatal(o, err)
			}
			var mu sync.Mutex
			var delivered []string
			trips := st.CountTrips(func(p string, _ time.Time) {
				mu.Lock()
				delivered = append(delivered, p)
				mu.Unlock()
			})
			// Both calls will find their script gone and load it again.
			if err := st.Redis().ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			marked := make(chan error, 1)
			go func() {
				more, err := st.MarkSent(ctx, person, "tok", o, 1, true, 0, time.Now())
				if err == nil && more {
					err = fmt.Errorf("more deliveries after the only one")
				}
				marked <- err
			}()
			waiting(t, st, marked, "the last record went alone, without waiting")
			if fresh, err := accept(people[0], "a2"); err != nil || !fresh {
				t.Fatal(fresh, err)
			}
			answered(t, marked, "the last record did not go with the accept")
			got := trips.Snapshot()
			// One for both, and one to load the lost scripts again.
			if got[store.TripAccept] != 2 || got[store.TripMark] != 0 {
				t.Errorf("round trips: %d accept, %d record; want 2 accept (the record rode along)", got[store.TripAccept], got[store.TripMark])
			}
			mu.Lock()
			if len(delivered) != 1 || delivered[0] != person {
				t.Errorf("the trip counter saw %v delivered; want %s", delivered, person)
			}
			mu.Unlock()
			if o, err := st.NextOutbound(ctx, person, "tok2", time.Minute); err != nil || o != nil {
				t.Errorf("the outbox after its last record: %+v, %v", o, err)
			}
		})
	})
}

// waiting waits until one call waits to go to Redis, the one whose answer
// comes on ch: it fails the test if that call was answered instead.
func waiting(t *testing.T, st *store.Store, ch <-chan error, failure string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); st.Waiting() != 1; {
		select {
		case err := <-ch:
			t.Fatalf("%s (%v)", failure, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls waiting; want 1", st.Waiting())
		}
		time.Sleep(time.Millisecond)
	}
}

// answered waits for a call's answer on ch, which must come without error
// well within any patience the test set.
func answered(t *testing.T, ch <-chan error, failure string) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(failure)
	}
}
