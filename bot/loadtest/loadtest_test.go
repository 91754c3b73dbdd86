package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/lifeline-org/lifeline/bot/loadtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

func TestMainJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// Twenty people may send 30 messages a minute each: on a fast machine
	// a warm-up spends that budget before the window opens, so the window
	// opens at once.
	args := []string{"-redis", storetest.SharedURL(t), "-people", "20", "-duration", "3s", "-warmup", "0s", "-json"}
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
	for _, f := range []string{"msgs_per_sec", "p50_ms", "p99_ms", "redis_roundtrips_per_msg", "redis_bytes_per_person", "go_heap_bytes_per_person"} {
		if _, ok := got[f].(float64); !ok {
			t.Errorf("field %s missing or not a number in %s", f, stdout.String())
		}
	}
	if v, _ := got["msgs_per_sec"].(float64); v <= 0 {
		t.Errorf("msgs_per_sec = %v, want > 0; stderr: %s", v, stderr.String())
	}
}
