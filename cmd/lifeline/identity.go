package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/store"
)

// consumerLease is how long a process's name is held unless renewed.
const consumerLease = 30 * time.Second

// identity names this process in the queues' consumer groups. The name is
// stable across restarts of one machine (FLY_MACHINE_ID, else the host
// name), so a restarted process resumes its own pending entries at once and
// re-enters the locks its previous life held, instead of waiting for
// others to claim them. A lease in Redis keeps two live processes from
// sharing a name: the second takes a name of its own.
type identity struct {
	name, holder string
}

// newIdentity takes this process's name. LIFELINE_CONSUMER (or, on Fly,
// FLY_MACHINE_ID) names one machine's one
// process: a restarted process takes its name back at once, even while its
// previous life's lease runs. Without either the host name is used, and a
// restart within the lease's 30 s takes a name of its own (two processes
// on one host must never share one).
func newIdentity(ctx context.Context, st *store.Store, consumer string, getenv func(string) string, log *slog.Logger) (*identity, error) {
	base, stable := consumer, true
	if base == "" {
		base = getenv("FLY_MACHINE_ID")
	}
	if base == "" {
		base, stable = hostname(), false
	}
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, base)
	if base == "" {
		base = "lifeline"
	}
	id := &identity{name: "lifeline-" + base, holder: random()}
	if stable {
		id.holder = id.name
	}
	for range 3 {
		ok, err := st.TakeLease(ctx, "consumer:"+id.name, id.holder, consumerLease)
		if err == nil && !ok && stable {
			ok, err = st.RenewLease(ctx, "consumer:"+id.name, id.holder, consumerLease) // our own, from before a restart
		}
		if err != nil {
			return nil, err
		}
		if ok {
			return id, nil
		}
		log.Warn("another live process has this name; taking another", "event", "consumer_name_taken", "consumer", id.name)
		id.name = "lifeline-" + base + "-" + random()[:6]
	}
	return nil, fmt.Errorf("no free consumer name for %s", base)
}

// keep renews the lease until ctx ends. Losing it (another process took the
// name after this one was cut off from Redis for longer than the lease) is
// an error: two processes sharing a name could each think they hold the
// other's locks.
func (id *identity) keep(ctx context.Context, st *store.Store) error {
	return bot.Every(ctx, consumerLease/3, func() error {
		ok, err := st.RenewLease(ctx, "consumer:"+id.name, id.holder, consumerLease)
		if err != nil {
			return nil // Redis away: try again; the lease outlives a short outage
		}
		if !ok {
			return fmt.Errorf("consumer name %s taken by another process", id.name)
		}
		return nil
	})
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func random() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
