package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lifeline-org/lifeline/bot/loadtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// runJSON runs the load test on the test Redis with args (and -json) and
// returns its one JSON object.
func runJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"-redis", storetest.SharedURL(t), "-json"}, args...)
	code := loadtest.Main(context.Background(), args, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	var got map[string]any
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value: %s", stdout.String())
	}
	return got
}

func TestMainJSON(t *testing.T) {
	// Twenty people may send 30 messages a minute each: on a fast machine
	// a warm-up spends that budget before the window opens, so the window
	// opens at once.
	got := runJSON(t, "-people", "20", "-duration", "3s", "-warmup", "0s")
	for _, f := range []string{"msgs_per_sec", "p50_ms", "p99_ms", "redis_roundtrips_per_msg", "redis_bytes_per_person", "bytes_per_idle_person", "go_heap_bytes_per_person"} {
		if _, ok := got[f].(float64); !ok {
			t.Errorf("field %s missing or not a number in %v", f, got)
		}
	}
	if v, _ := got["msgs_per_sec"].(float64); v <= 0 {
		t.Errorf("msgs_per_sec = %v, want > 0", v)
	}
	// Telegram people's dedupe ids expire: an idle person keeps less.
	idle, _ := got["bytes_per_idle_person"].(float64)
	all, _ := got["redis_bytes_per_person"].(float64)
	if idle <= 0 || idle >= all {
		t.Errorf("bytes_per_idle_person = %v, want in (0, redis_bytes_per_person = %v)", idle, all)
	}
	if short, _ := got["redis_short_lived_keys"].([]any); !slices.Contains(short, any("seen")) {
		t.Errorf("redis_short_lived_keys = %v, want the dedupe ids (seen) among them", short)
	}
	if _, ok := got["baseline_set_per_s"]; ok {
		t.Errorf("baseline_set_per_s reported without -baseline")
	}
}

func TestMainBaseline(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "mem.out")
	got := runJSON(t, "-people", "10", "-duration", "1s", "-warmup", "0s", "-baseline", "-baseline-duration", "300ms",
		"-cpuprofile", cpu, "-memprofile", mem)
	base, _ := got["baseline_set_per_s"].(float64)
	ratio, _ := got["ratio"].(float64)
	msgs, _ := got["msgs_per_sec"].(float64)
	if base <= 0 || ratio <= 0 || msgs <= 0 {
		t.Fatalf("baseline_set_per_s = %v, ratio = %v, msgs_per_sec = %v: want all positive", base, ratio, msgs)
	}
	if want := msgs / base; math.Abs(ratio-want) > 1e-9*want {
		t.Errorf("ratio = %v, want msgs_per_sec ÷ baseline_set_per_s = %v", ratio, want)
	}
	if conns, _ := got["baseline_conns"].(float64); conns <= 0 {
		t.Errorf("baseline_conns = %v, want > 0", conns)
	}
	for _, f := range []string{cpu, mem, mem + ".base"} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v (want a non-empty file)", f, err)
		}
	}
}
