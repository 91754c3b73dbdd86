package main

import (
	"context"
	"strings"
	"testing"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestIdentity: a named machine takes its name back after a restart while
// its old lease runs; two live processes named by the host never share a
// name.
func TestIdentity(t *testing.T) {
	st := store.New(storetest.Shared(t), storetest.Namespace())
	ctx := context.Background()
	env := func(string) string { return "" }
	first, err := newIdentity(ctx, st, "machine-7", env, bottest.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	again, err := newIdentity(ctx, st, "machine-7", env, bottest.Quiet())
	if err != nil || again.name != first.name {
		t.Fatalf("restarted machine named %q, want %q (%v)", again.name, first.name, err)
	}
	a, err := newIdentity(ctx, st, "", env, bottest.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	b, err := newIdentity(ctx, st, "", env, bottest.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	if a.name == b.name || !strings.HasPrefix(b.name, a.name+"-") {
		t.Fatalf("two processes on one host named %q and %q", a.name, b.name)
	}
	fly, err := newIdentity(ctx, st, "", func(k string) string {
		if k == "FLY_MACHINE_ID" {
			return "e784079b449483"
		}
		return ""
	}, bottest.Quiet())
	if err != nil || fly.name != "lifeline-e784079b449483" {
		t.Fatalf("Fly machine named %q (%v)", fly.name, err)
	}
}
