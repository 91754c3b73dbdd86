package loadtest

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// The chaos run on Redis Cluster (ChaosConfig.Cluster): three masters with
// a replica each, and each Redis fault a failover. Replication is
// asynchronous, so what the killed master acknowledged and had not yet
// passed to its replica is gone after the promotion; here the run counts
// what was at risk at each kill, and which losses and repeats it explains.

// Cluster layout of the run: masters, each with one replica.
const (
	chaosMasters  = 3
	chaosReplicas = 1
)

// riskWindow is how long before a kill a write the killed master
// acknowledged counts as possibly not yet replicated. The replica reads
// the master's stream as it is written; on one machine it lags by well
// under a millisecond, so this is a wide margin (it is markGrace, the
// same margin a process is given to record a send).
const riskWindow = markGrace

// msgRef names one message a person wrote: person index and step.
type msgRef struct{ person, step int }

// shardPeople returns the index of each person's shard (store.ShardOf of
// the id Lifeline gives them, from the run's data key).
func shardPeople(people []*chaosPerson, dataKey []byte) ([]int, error) {
	sealer, err := store.NewSealer(dataKey, dataKey)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(people))
	for i, p := range people {
		addr := p.phone
		if p.telegram {
			addr = strconv.FormatInt(p.chat, 10)
		}
		out[i] = store.ShardOf(sealer.PersonID(p.channel(), addr))
	}
	return out, nil
}

// shardKey is a key in shard i's slot: any key with its hash tag.
func shardKey(i int) string { return fmt.Sprintf("ll:{s%02x}:work", i) }

// failover kills (SIGKILL) a master that serves some people's shards,
// preferring the shards failed over least often (a promoted replica serves
// the same ones), and waits until its replica is promoted. What the killed master had at risk is noted in the fault;
// rejoin brings the node back later.
func (r *chaosRun) failover(ctx context.Context, rng *mrand.Rand) (Fault, time.Time, error) {
	// The masters that serve people now, and their shards.
	served := map[*storetest.Server][]int{}
	var masters []*storetest.Server
	for _, s := range slices.Compact(slices.Sorted(slices.Values(r.shards))) {
		m, err := r.cluster.MasterOf(shardKey(s))
		if err != nil {
			return Fault{Kind: "failover"}, time.Time{}, err
		}
		if _, ok := served[m]; !ok {
			masters = append(masters, m)
		}
		served[m] = append(served[m], s)
	}
	rng.Shuffle(len(masters), func(i, j int) { masters[i], masters[j] = masters[j], masters[i] })
	m := slices.MinFunc(masters, func(a, b *storetest.Server) int { return r.failedOver[served[a][0]] - r.failedOver[served[b][0]] })
	r.failedOver[served[m][0]]++
	var people []int
	for i, s := range r.shards {
		if slices.Contains(served[m], s) {
			people = append(people, i)
		}
	}
	var tags []string
	for _, s := range served[m] {
		tags = append(tags, fmt.Sprintf("s%02x", s))
	}

	kill := time.Now()
	f := Fault{Kind: "failover", Target: fmt.Sprintf("master %s (%s; %d people)", m.Addr(), strings.Join(tags, " "), len(people)),
		At: Duration(kill.Sub(r.start))}
	var flights [][]*flying
	for _, g := range r.gates {
		flights = append(flights, g.flight(kill))
	}
	node, err := r.cluster.KillMaster(shardKey(served[m][0]))
	f.node = node // killed, even when no replica took over
	if err != nil {
		return f, time.Time{}, err
	}
	promoted := time.Now()
	f.Down = Duration(promoted.Sub(kill))

	// At risk: sends to its people under way at the kill (their record may
	// be lost, and the send made again), and their messages answered 2xx
	// from riskWindow before the kill until the promotion (no webhook of
	// theirs can be answered 2xx in between but from what the killed
	// master acknowledged).
	mine := map[string]bool{}
	for _, i := range people {
		mine[r.people[i].deliveryPrefix()] = true
	}
	for i, g := range r.gates {
		for _, k := range g.keys(flights[i]) {
			if who, _, _ := strings.Cut(k, "\x00"); mine[who] {
				f.inFlight = append(f.inFlight, k)
			}
		}
	}
	f.InFlight = len(f.inFlight)
	for _, i := range people {
		p := r.people[i]
		p.mu.Lock()
		for k, at := range p.acceptedAt {
			if !at.IsZero() && !at.Before(kill.Add(-riskWindow)) && !at.After(promoted) {
				f.atRisk = append(f.atRisk, msgRef{i, k})
			}
		}
		p.mu.Unlock()
	}
	f.AtRisk = len(f.atRisk)
	r.progressf("SIGKILL %s; its replica took over %s later (%d sends in flight to its people, %d of their messages accepted within %s of the kill)",
		f.Target, f.Down, f.InFlight, f.AtRisk, Duration(riskWindow))
	return f, promoted, nil
}

// rejoin starts the node a failover killed again, after the outstanding
// replies came (so they came without it), and waits until it is a
// replica in sync.
func (r *chaosRun) rejoin(f *Fault) {
	start := time.Now()
	if err := r.cluster.Rejoin(f.node); err != nil {
		r.progressf("  %s did not rejoin: %v", f.node.Addr(), err)
		f.Rejoined = false
		return
	}
	f.Rejoined = true
	f.Healthy = Duration(time.Since(start))
	r.progressf("  %s started again, a replica in sync %s later", f.node.Addr(), f.Healthy)
}

// channel is the name of p's channel in Lifeline.
func (p *chaosPerson) channel() string {
	if p.telegram {
		return "telegram"
	}
	return "sms"
}

// deliveryPrefix is how delivery keys name p (delivery.key up to its
// NUL).
func (p *chaosPerson) deliveryPrefix() string {
	if p.telegram {
		return "t" + strconv.FormatInt(p.chat, 10)
	}
	return "s" + p.phone
}
