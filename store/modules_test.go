package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestCases: a case's timers fire once each, the first claim wins and the
// others learn who holds it, and closing keeps only the reason and times.
func TestCases(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if ok, err := st.ReserveCaseAlias(ctx, "K7Q"); err != nil || !ok {
			t.Fatalf("reserve: %v, %v", ok, err)
		}
		if ok, _ := st.ReserveCaseAlias(ctx, "K7Q"); ok {
			t.Fatal("an alias in use was reserved again")
		}
		err := st.OpenCase(ctx, store.CaseRecord{Alias: "K7Q", Person: "p1", Reason: "crisis", Priority: "urgent", Opened: t0},
			[]byte("sealed"), time.Hour,
			store.CaseTimer{Alias: "K7Q", Kind: store.TimerGroup, At: t0.Add(time.Minute)},
			store.CaseTimer{Alias: "K7Q", Kind: store.TimerReannounce, At: t0.Add(5 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if due, err := st.DueCaseTimers(ctx, t0); err != nil || len(due) != 0 {
			t.Fatalf("timers before their time: %v, %v", due, err)
		}
		due, err := st.DueCaseTimers(ctx, t0.Add(time.Hour))
		if err != nil || len(due) != 2 || due[0].Alias != "K7Q" || due[0].Kind != store.TimerGroup || due[1].Kind != store.TimerReannounce {
			t.Fatalf("due timers: %+v, %v", due, err)
		}
		if again, _ := st.DueCaseTimers(ctx, t0.Add(time.Hour)); len(again) != 0 {
			t.Fatalf("timers fired twice: %+v", again)
		}
		// The first fired; the second's process died before firing it: it
		// is due again once its lease ends, and only until it is done.
		if err := st.DoneCaseTimer(ctx, due[0]); err != nil {
			t.Fatal(err)
		}
		again, err := st.DueCaseTimers(ctx, t0.Add(time.Hour+store.TimerLease))
		if err != nil || len(again) != 1 || again[0].Kind != store.TimerReannounce {
			t.Fatalf("after the lease: %+v, %v; want the unfired timer back", again, err)
		}
		if err := st.DoneCaseTimer(ctx, again[0]); err != nil {
			t.Fatal(err)
		}
		if left, _ := st.DueCaseTimers(ctx, t0.Add(24*time.Hour)); len(left) != 0 {
			t.Fatalf("fired timers came back: %+v", left)
		}

		won, _, err := st.ClaimCase(ctx, "K7Q", "coach-a", t0.Add(2*time.Minute))
		if err != nil || !won {
			t.Fatalf("first claim: %v, %v", won, err)
		}
		won, holder, err := st.ClaimCase(ctx, "K7Q", "coach-b", t0.Add(3*time.Minute))
		if err != nil || won || holder != "coach-a" {
			t.Fatalf("second claim: won %v, holder %q, %v", won, holder, err)
		}
		if err := st.HoldCase(ctx, "K7Q", "ana"); err != nil {
			t.Fatal(err)
		}
		if cur, err := st.CoachCase(ctx, "ana"); err != nil || cur != "K7Q" {
			t.Fatalf("coach's case %q, %v", cur, err)
		}
		if n, err := st.CountOpenCases(ctx); err != nil || n != 1 {
			t.Fatalf("%d open cases, %v", n, err)
		}

		if err := st.CloseCase(ctx, "K7Q", "ana", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c, err := st.Case(ctx, "K7Q")
		if err != nil || c == nil {
			t.Fatalf("closed case: %v, %v", c, err)
		}
		if c.State != store.CaseClosed || c.Person != "" || c.Coach != "" || c.Reason != "crisis" || !c.Opened.Equal(t0) || !c.Closed.Equal(t0.Add(time.Hour)) {
			t.Errorf("closed case kept %+v", c)
		}
		if ex, err := st.CaseExcerpt(ctx, "K7Q"); err != nil || ex != nil {
			t.Errorf("excerpt %q, %v after closing", ex, err)
		}
		if cur, _ := st.CoachCase(ctx, "ana"); cur != "" {
			t.Errorf("the coach still writes to closed case %q", cur)
		}
		if n, _ := st.CountOpenCases(ctx); n != 0 {
			t.Errorf("%d open cases after closing", n)
		}
		if c, err := st.Case(ctx, "NONE"); err != nil || c != nil {
			t.Errorf("unknown case: %v, %v", c, err)
		}
	})
}

// TestCheckinClaims: a claimed item is nobody else's until its lease
// ends, then due again unless done.
func TestCheckinClaims(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		items := []store.CheckinItem{{Kind: "ci", Due: t0}, {Kind: "rm"}}
		if err := st.SetCheckinItems(ctx, "p1", items); err != nil {
			t.Fatal(err)
		}
		got, err := st.ClaimCheckins(ctx, t0, t0.Add(time.Minute), 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim: %+v, %v", got, err)
		}
		if c := got[0]; c.Kind != "ci" || c.Person != "p1" || c.Due != strconv.FormatInt(t0.UnixMilli(), 10) {
			t.Errorf("claimed %+v", c)
		}
		if more, _ := st.ClaimCheckins(ctx, t0.Add(30*time.Second), t0.Add(2*time.Minute), 10); len(more) != 0 {
			t.Fatalf("claimed again during the lease: %+v", more)
		}
		again, err := st.ClaimCheckins(ctx, t0.Add(2*time.Minute), t0.Add(3*time.Minute), 10)
		if err != nil || len(again) != 1 {
			t.Fatalf("after the lease: %+v, %v", again, err)
		}
		if err := st.CheckinDone(ctx, again[0].Claim); err != nil {
			t.Fatal(err)
		}
		if more, _ := st.ClaimCheckins(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 10); len(more) != 0 {
			t.Errorf("a done item came back: %+v", more)
		}
	})
}

// TestBroadcastChunks: chunks are written only under the scan lease, read
// through the chunk queue, and once the broadcast ends its queue reads
// nothing and is not made again.
func TestBroadcastChunks(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		created, err := st.CreateBroadcast(ctx, store.NewBroadcast{ID: "b1", Kind: "broadcast", Plan: []byte("{}"),
			Status: "sending", SendAt: t0, Created: t0, Source: st.PeopleKey()})
		if err != nil || !created {
			t.Fatalf("create: %v, %v", created, err)
		}
		if again, _ := st.CreateBroadcast(ctx, store.NewBroadcast{ID: "b1", Status: "sending"}); again {
			t.Fatal("created twice")
		}
		if ok, err := st.AddChunk(ctx, "b1", "tok", "0", "0", []string{"p1"}, time.Minute); err != nil || ok {
			t.Fatalf("a chunk without the lease: %v, %v", ok, err)
		}
		ok, cursor, err := st.LeaseBroadcastScan(ctx, "b1", "tok", time.Minute)
		if err != nil || !ok || cursor != "0" {
			t.Fatalf("lease: %v, %q, %v", ok, cursor, err)
		}
		if ok, _, _ := st.LeaseBroadcastScan(ctx, "b1", "other", time.Minute); ok {
			t.Fatal("the lease was taken twice")
		}
		if ok, err := st.AddChunk(ctx, "b1", "tok", "0", "0", []string{"p1", "p2"}, time.Minute); err != nil || !ok {
			t.Fatalf("chunk: %v, %v", ok, err)
		}
		b, err := st.Broadcast(ctx, "b1")
		if err != nil || b == nil || !b.Scanned || b.Status != "sending" {
			t.Fatalf("broadcast: %+v, %v", b, err)
		}
		chunks := st.BroadcastChunks("b1")
		es, err := chunks.Read(ctx, "c1", 1, -1)
		if err != nil || len(es) != 1 || string(es[0].Payload) != "p1,p2" {
			t.Fatalf("read: %+v, %v", es, err)
		}
		if own, err := chunks.Own(ctx, "c1", 10); err != nil || len(own) != 1 {
			t.Fatalf("own: %+v, %v", own, err)
		}
		if err := chunks.Hold(ctx, "c1", es[0]); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkBroadcast(ctx, "b1", "p1", "sent"); err != nil {
			t.Fatal(err)
		}
		served, err := st.BroadcastServed(ctx, "b1", []string{"p1", "p2"})
		if err != nil || !served[0] || served[1] {
			t.Fatalf("served %v, %v", served, err)
		}
		if err := st.EndBroadcast(ctx, "b1", time.Hour); err != nil {
			t.Fatal(err)
		}
		if es, err := chunks.Read(ctx, "c1", 1, -1); err != nil || len(es) != 0 {
			t.Fatalf("read after the end: %+v, %v", es, err)
		}
		if es, err := chunks.Claim(ctx, "c1", 0, 1); err != nil || len(es) != 0 {
			t.Fatalf("claim after the end: %+v, %v", es, err)
		}
		if n, _ := st.Redis().Exists(ctx, chunks.Streams...).Result(); n != 0 {
			t.Error("the chunk stream was made again after the end")
		}
		if active, _ := st.ActiveBroadcasts(ctx); len(active) != 0 {
			t.Errorf("still active: %v", active)
		}
	})
}

// TestJobsAndLeases: a job id is taken once, deleting says whether there
// was a job, interest counts once, and a lease has one holder.
func TestJobsAndLeases(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if ok, err := st.AddJob(ctx, "j1", []byte(`{"id":"j1"}`)); err != nil || !ok {
			t.Fatalf("add: %v, %v", ok, err)
		}
		if ok, _ := st.AddJob(ctx, "j1", []byte(`{}`)); ok {
			t.Fatal("a job id was taken twice")
		}
		if err := st.ListJob(ctx, "j1", t0, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n, err := st.CountJobsSince(ctx, t0); err != nil || n != 1 {
			t.Fatalf("%d jobs since, %v", n, err)
		}
		if added, err := st.AddJobInterest(ctx, "j1", "p1", time.Now().Add(time.Hour)); err != nil || !added {
			t.Fatalf("interest: %v, %v", added, err)
		}
		if added, _ := st.AddJobInterest(ctx, "j1", "p1", time.Now().Add(time.Hour)); added {
			t.Error("interest counted twice")
		}
		if existed, err := st.DeleteJob(ctx, "j1"); err != nil || !existed {
			t.Fatalf("delete: %v, %v", existed, err)
		}
		if existed, _ := st.DeleteJob(ctx, "j1"); existed {
			t.Error("a deleted job was deleted again")
		}
		if ids, _ := st.LatestJobs(ctx, 10); len(ids) != 0 {
			t.Errorf("a deleted job is still listed: %v", ids)
		}
		if raw, err := st.Job(ctx, "j1"); err != nil || raw != nil {
			t.Errorf("deleted job read as %q, %v", raw, err)
		}

		if ok, err := st.TakeLease(ctx, "sweep", "a", time.Minute); err != nil || !ok {
			t.Fatalf("lease: %v, %v", ok, err)
		}
		if ok, _ := st.TakeLease(ctx, "sweep", "b", time.Minute); ok {
			t.Error("a lease had two holders")
		}
	})
}

// TestMeasure: what the load test measures, on a real server (MEMORY
// USAGE).
func TestMeasure(t *testing.T) {
	st := store.New(storetest.Shared(t), storetest.Namespace())
	ctx := context.Background()
	if empty, err := st.Empty(ctx); err != nil || !empty {
		t.Fatalf("a fresh namespace: empty %v, %v", empty, err)
	}
	accept(t, st, "p1", "m1", "hello")
	if empty, _ := st.Empty(ctx); empty {
		t.Fatal("a namespace with a person is empty")
	}
	keys := st.PersonKeyNames("p1")
	sizes, err := st.MemoryUsage(ctx, keys)
	if err != nil || len(sizes) != len(keys) {
		t.Fatalf("memory usage: %v, %v", sizes, err)
	}
	var some, missing bool
	for _, n := range sizes {
		some = some || n > 0
		missing = missing || n == -1
	}
	if !some || !missing {
		t.Errorf("sizes %v: want some keys measured and the absent ones -1", sizes)
	}
	shared, err := st.SharedKeyBytes(ctx)
	if err != nil || shared["people"] <= 0 || shared["work"] <= 0 {
		t.Errorf("shared keys %v, %v", shared, err)
	}
	if err := st.Arrive(ctx, "step"); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Arrived(ctx, "step"); err != nil || n != 1 {
		t.Errorf("arrived %d, %v", n, err)
	}
	if err := st.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if empty, _ := st.Empty(ctx); !empty {
		t.Error("keys left after DeleteAll")
	}
}
