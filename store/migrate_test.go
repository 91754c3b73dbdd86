package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestMigrateLayout1 writes what an earlier Lifeline left in Redis (each
// person under "{u:<id>}", one global work queue, people index and
// check-in set) and reads it through this store after Migrate.
func TestMigrateLayout1(t *testing.T) {
	ctx := context.Background()
	rdb := storetest.Shared(t)
	if _, cluster := rdb.(*redis.ClusterClient); cluster {
		t.Skip("layout 1 never ran on Redis Cluster: nothing to migrate there")
	}
	ns := storetest.Namespace()
	st := store.New(rdb, ns)
	t.Cleanup(func() { _ = st.DeleteAll(ctx) })
	due := time.UnixMilli(1_800_000_000_000)
	old := func(parts ...string) string {
		k := ns
		for _, p := range parts {
			k += ":" + p
		}
		return k
	}
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, old("{u:ann}", "p"), "ch", "sms", "lang", "fr", "last", "1")
	pipe.Set(ctx, old("{u:ann}", "s"), `{"flow":"menu"}`, 0)
	pipe.RPush(ctx, old("{u:ann}", "in"), "hello")
	pipe.HSet(ctx, old("{u:bob}", "p"), "ch", "telegram", "lang", "en")
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: old("work"), Values: []any{"p", "ann"}})
	pipe.XGroupCreate(ctx, old("work"), store.WorkGroup, "0")
	pipe.SAdd(ctx, old("people"), "ann", "bob")
	pipe.SAdd(ctx, old("sub", "jobs"), "ann")
	pipe.HSet(ctx, old("case", "K7"), "person", "ann", "state", store.CaseOpen, "reason", "crisis")
	pipe.ZAdd(ctx, old("cases", "open"), redis.Z{Score: 1, Member: "K7"})
	pipe.ZAdd(ctx, old("{ci}", "due"), redis.Z{Score: float64(due.UnixMilli()), Member: "weekly|ann"})
	pipe.ZAdd(ctx, old("{ci}", "inflight"), redis.Z{Score: 1, Member: "1700000000000|monthly|bob"})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}

	n, err := st.Migrate(ctx)
	if err != nil || n == 0 {
		t.Fatalf("migrate: %d, %v", n, err)
	}
	if again, err := st.Migrate(ctx); err != nil || again != 0 {
		t.Fatalf("a second migration moved %d, %v", again, err)
	}
	if p, _ := st.Profile(ctx, "ann"); p["lang"] != "fr" {
		t.Errorf("ann's profile after migration: %v", p)
	}
	if sess, _ := st.LoadSession(ctx, "ann"); string(sess) != `{"flow":"menu"}` {
		t.Errorf("ann's session after migration: %q", sess)
	}
	q := st.ShardedQueue(st.WorkStreams(), store.WorkGroup)
	if err := q.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := q.Read(ctx, "c1", 10, 100*time.Millisecond)
	if err != nil || len(es) != 1 || string(es[0].Payload) != "ann" {
		t.Fatalf("work after migration: %+v, %v", es, err)
	}
	turn, err := st.Begin(ctx, "ann", "tok", time.Minute, 10)
	if err != nil || len(turn.Inbox) != 1 || string(turn.Inbox[0]) != "hello" {
		t.Fatalf("ann's inbox after migration: %+v, %v", turn, err)
	}
	if c, err := st.Case(ctx, "K7"); err != nil || c.Person != "ann" || c.Reason != "crisis" {
		t.Errorf("case after migration: %+v, %v", c, err)
	}
	if open, _ := st.OpenCaseAliases(ctx, 10); len(open) != 1 || open[0] != "K7" {
		t.Errorf("open cases after migration: %v", open)
	}
	var people []string
	for cursor := uint64(0); ; {
		ids, next, err := st.ScanPeople(ctx, cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, ids...)
		if next == 0 {
			break
		}
		cursor = next
	}
	if len(people) != 2 {
		t.Errorf("people after migration: %v", people)
	}
	claimed, err := st.ClaimCheckins(ctx, due, due.Add(time.Minute), 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("check-ins after migration (one due, one claimed before): %+v, %v", claimed, err)
	}
	for _, k := range []string{old("{u:ann}", "p"), old("work"), old("people"), old("{ci}", "due"), old("sub", "jobs")} {
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("%s is still there", k)
		}
	}
}
