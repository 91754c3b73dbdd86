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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := loadtest.Chaos(ctx, t, loadtest.ChaosConfig{
		People: 16, Processes: 2, Duration: 40 * time.Second, Drain: 30 * time.Second,
		BotKills: 1, RedisKills: 1,
		Command:  loadtest.LifelineCommand(os.Args[0], "LIFELINE_TEST_CHILD=1"),
		LogDir:   t.TempDir(),
		Progress: logWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	res.Table(&table)
	t.Log("\n" + table.String())
	if len(res.Faults) != 2 {
		t.Errorf("%d faults made, want 2", len(res.Faults))
	}
	for _, m := range res.Missed() {
		t.Error(m)
	}
	if len(res.Exits) > 0 {
		t.Errorf("processes ended without being killed: %v", res.Exits)
	}
}

// logWriter writes each line to the test's log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
