package storetest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestClusterFailover: a killed master's replica takes over with what was
// written before, MasterOf names it (and not the killed node), and the
// killed node rejoins as its replica.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six redis-server processes")
	}
	ctx := context.Background()
	c := StartCluster(t, 3, 1)
	rdb := c.Client(t)
	const key = "t:{s03}:work"
	m, err := c.MasterOf(key)
	if err != nil {
		t.Fatal(err)
	}
	// SET then WAIT on one connection to the master (WAIT counts the
	// writes of its own connection): the replica has it before the kill,
	// so the failover keeps it.
	direct := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer direct.Close()
	pipe := direct.Pipeline()
	pipe.Set(ctx, key, "before", 0)
	acked := pipe.Do(ctx, "wait", 1, 5000)
	if _, err := pipe.Exec(ctx); err != nil || acked.Val() != int64(1) {
		t.Fatalf("SET and WAIT 1 on %s: %v, %v", m.Addr(), acked.Val(), err)
	}
	killed, err := c.KillMaster(key)
	if err != nil {
		t.Fatal(err)
	}
	if killed != m {
		t.Fatalf("killed %s, not the master %s", killed.Addr(), m.Addr())
	}
	now, err := c.MasterOf(key)
	if err != nil || now == killed {
		t.Fatalf("after the failover MasterOf = %v, %v", now, err)
	}
	if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "before" {
		t.Fatalf("after the failover %s = %q, %v; want before", key, v, err)
	}
	if err := c.Rejoin(killed); err != nil {
		t.Fatal(err)
	}
	role, _ := killed.role()
	if len(role) < 3 || role[0] != "slave" || role[1]+":"+role[2] != now.Addr() {
		t.Fatalf("the rejoined node's ROLE is %q, want a replica of %s", role, now.Addr())
	}
	if m, err := c.MasterOf(key); err != nil || m != now {
		t.Fatalf("after the rejoin MasterOf = %v, %v; want %s", m, err, now.Addr())
	}
	if err := rdb.Set(ctx, key, "after", 0).Err(); err != nil {
		t.Fatalf("write after the rejoin: %v", err)
	}
}
