package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/loadtest"
)

// TestChaos is the short chaos run (`lifeline loadtest -chaos` runs the
// long one): two real `lifeline serve` processes (this test binary as
// children) on a real redis-server with an append-only file (fsync
// always), Telegram and SMS people writing through their webhooks, fake
// Bot API and Twilio on 127.0.0.1, and at random moments a SIGKILL of
// Redis and of one process, each started again. It asserts issue 17's
// targets: nothing accepted is lost; Redis killed repeats at most two
// messages in the run; a killed process repeats only sends it had in
// flight, and the last reply outstanding when its restart is healthy
// comes within 10 s.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("a 50 s run of real processes")
	}
	res := runChaos(t, loadtest.ChaosConfig{People: 16, Processes: 2, Duration: 40 * time.Second, BotKills: 1, RedisKills: 1})
	if len(res.Faults) != 2 {
		t.Errorf("%d faults made, want 2", len(res.Faults))
	}
}

// TestChaosCluster is the chaos run on a real Redis Cluster (three
// masters with a replica each, AOF fsync everysec): a SIGKILL of one
// Lifeline process and a failover, a master of some people's shards
// killed with SIGKILL, its replica promoted and the node started again
// (it rejoins as a replica). It asserts issue 21's bounds
// (loadtest.ChaosResult.Missed): replication is asynchronous, so the
// failover may lose only messages of the killed master's people
// acknowledged within 250 ms before the kill, and repeat only sends to
// them in flight at the kill; everything else as in TestChaos.
func TestChaosCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a 50 s run of real processes on six redis-server nodes")
	}
	res := runChaos(t, loadtest.ChaosConfig{People: 16, Processes: 2, Duration: 40 * time.Second, BotKills: 1, RedisKills: 1, Cluster: true})
	kinds := map[string]int{}
	for _, f := range res.Faults {
		kinds[f.Kind]++
	}
	if kinds["bot"] != 1 || kinds["failover"] != 1 {
		t.Errorf("faults made %v, want a process killed and a failover", kinds)
	}
}

// runChaos runs cfg with this test binary as `lifeline serve` and 30 s of
// drain, logs the table, and fails the test for each target missed and
// each process that ended without being killed.
func runChaos(t *testing.T, cfg loadtest.ChaosConfig) *loadtest.ChaosResult {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg.Drain = 30 * time.Second
	cfg.Command = loadtest.LifelineCommand(os.Args[0], "LIFELINE_TEST_CHILD=1")
	cfg.LogDir = t.TempDir()
	cfg.Progress = logWriter{t}
	res, err := loadtest.Chaos(ctx, t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	res.Table(&table)
	t.Log("\n" + table.String())
	for _, m := range res.Missed() {
		t.Error(m)
	}
	if len(res.Exits) > 0 {
		t.Errorf("processes ended without being killed: %v", res.Exits)
	}
	return res
}

// logWriter writes each line to the test's log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
