package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestSessionKinds: whatever the engine wrote is kept sealed and read back
// as written; sessions kept before (plain JSON, sealed JSON, and an
// unsealed packed one from a store without a sealer) are read as they are
// and sealed at their next write.
func TestSessionKinds(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	sealer, err := NewSealer(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st := New(rdb, "t", WithSealer(sealer))
	json := []byte(`{"v":1,"person":"p1","session":{"flow":"menu","node":"main"}}`)
	packed := []byte{0x02, 1, 2, 3, 4, 5, 6}
	for name, c := range map[string]struct{ kept, want []byte }{
		"sealed packed": {st.sealSession(packed), packed},
		"plain JSON":    {json, json},
		"sealed JSON":   {sealer.Seal(json), json},
		"plain packed":  {packed, packed},
	} {
		if err := rdb.Set(ctx, st.pkey("p1", kSession), c.kept, 0).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := st.LoadSession(ctx, "p1")
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: read %q, %v", name, got, err)
		}
	}
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
	if plain, err := sealer.Open(raw); err != nil || !bytes.Equal(plain, turn.Session) {
		t.Errorf("the session was not sealed at its next write: %q, %v", plain, err)
	}
}

// TestTransientFields: profile fields under TransientPrefix come back with
// the profile, live in a hash of their own, and are gone TransientTTL after
// their last change, leaving the rest of the profile.
func TestTransientFields(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	st := New(redis.NewClient(&redis.Options{Addr: m.Addr()}), "t")
	turn := func() *Turn {
		t.Helper()
		if err := st.rdb.RPush(ctx, st.pkey("p1", kInbox), "hi").Err(); err != nil {
			t.Fatal(err)
		}
		tn, err := st.Begin(ctx, "p1", "tok", time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	tn := turn()
	if _, err := st.Commit(ctx, tn, Commit{Handled: 1, Profile: map[string]string{"lang": "fr", TransientPrefix + "n": "3"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.Profile(ctx, "p1"); p[TransientPrefix+"n"] != "" || p["lang"] != "fr" {
		t.Errorf("the profile hash holds %v", p)
	}
	if tn = turn(); tn.Profile[TransientPrefix+"n"] != "3" || tn.Profile["lang"] != "fr" {
		t.Errorf("Begin's profile: %v", tn.Profile)
	}
	if _, err := st.Commit(ctx, tn, Commit{Handled: 1}); err != nil {
		t.Fatal(err)
	}
	m.FastForward(TransientTTL + time.Second)
	if tn = turn(); tn.Profile[TransientPrefix+"n"] != "" || tn.Profile["lang"] != "fr" {
		t.Errorf("after TransientTTL, Begin's profile: %v", tn.Profile)
	}
}
