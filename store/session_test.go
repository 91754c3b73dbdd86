package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// A session as the engine writes it (flows.WriteSession): a person part
// way through a lesson.
var exampleSession = []byte(`{"v":1,"person":"xz3noagrg5gtud34llhjk","session":{"flow":"lesson_documents","node":"quiz",` +
	`"stack":[{"flow":"lessons","node":"topics"}],"fields":{"consent":"yes","lang":"es","progress.debt":"done",` +
	`"progress.documents":"started","checkins":"weekly"},"prompt":14,"options":["a","b","c"],` +
	`"seen":"2026-12-07T01:55:12.123456789Z"}}`)

// TestSessionPacked: a session is kept packed (and sealed), read back as
// written, much smaller than its JSON; sessions kept before packing
// (plain JSON, sealed JSON) are read as they are and packed at the next
// write.
func TestSessionPacked(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	sealer, err := NewSealer(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st := New(rdb, "t", WithSealer(sealer))
	packed := packSession(exampleSession)
	t.Logf("session: %d bytes of JSON, %d packed", len(exampleSession), len(packed))
	if len(packed)*2 > len(exampleSession) {
		t.Errorf("packed to %d of %d bytes: want at most half", len(packed), len(exampleSession))
	}
	for name, kept := range map[string][]byte{
		"packed and sealed": st.sealSession(exampleSession),
		"plain JSON":        exampleSession,
		"sealed JSON":       sealer.Seal(exampleSession),
	} {
		if err := rdb.Set(ctx, st.pkey("p1", kSession), kept, 0).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := st.LoadSession(ctx, "p1")
		if err != nil || !bytes.Equal(got, exampleSession) {
			t.Errorf("%s: read %q, %v", name, got, err)
		}
	}
	// The next write packs it.
	if err := rdb.RPush(ctx, st.pkey("p1", kInbox), "hi").Err(); err != nil {
		t.Fatal(err)
	}
	turn, err := st.Begin(ctx, "p1", "tok", time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, turn, Commit{Handled: 1, Session: turn.Session}); err != nil {
		t.Fatal(err)
	}
	raw, _ := rdb.Get(ctx, st.pkey("p1", kSession)).Bytes()
	plain, err := sealer.Open(raw)
	if err != nil || len(plain) == 0 || plain[0] != sessionPacked {
		t.Errorf("the session was not packed at its next write: %q, %v", plain, err)
	}
}

func BenchmarkPackSession(b *testing.B) {
	for b.Loop() {
		packSession(exampleSession)
	}
}

func BenchmarkUnpackSession(b *testing.B) {
	p := packSession(exampleSession)
	for b.Loop() {
		if _, err := unpackSession(p); err != nil {
			b.Fatal(err)
		}
	}
}
