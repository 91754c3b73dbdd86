package loadtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// ChaosConfig is a chaos run: real `lifeline serve` processes, a real
// redis-server with an append-only file (or a Redis Cluster), people on
// Telegram and SMS, and SIGKILLs.
type ChaosConfig struct {
	// People is how many people write, half on Telegram, half on SMS.
	People int
	// Processes is how many `lifeline serve` processes share the Redis.
	Processes int
	// Duration is how long people write; faults fall inside it.
	Duration time.Duration
	// Drain is how long, after Duration, replies are waited for.
	Drain time.Duration
	// BotKills and RedisKills are how many times a Lifeline process and
	// the Redis server are killed with SIGKILL (each then started again).
	// With Cluster each Redis kill is a failover.
	BotKills, RedisKills int
	// Cluster runs on a Redis Cluster of three masters with a replica each
	// (appendonly yes, appendfsync everysec) instead of one redis-server:
	// each Redis fault is then a SIGKILL of a master that serves some
	// people, its replica's promotion and, once the replies outstanding
	// then have come, the killed node started again (it rejoins as a
	// replica).
	Cluster bool
	// Seed makes the people's choices and the faults' moments repeatable
	// (the processes' timing is not); 0 picks one.
	Seed uint64
	// Command makes the command that runs `lifeline serve` with env
	// (NAME=value) on top of a bare environment; see LifelineCommand.
	Command func(env []string) *exec.Cmd
	// LogDir is where each process's log goes (default: a new temporary
	// directory, named in the result).
	LogDir string
	// Progress, when set, gets a line for each fault as it happens.
	Progress io.Writer
}

// Fault is one SIGKILL and what followed it.
type Fault struct {
	// Kind is "bot", "redis" or "failover"; Target names the process
	// (for a failover the master, its shards and how many people they
	// hold).
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// At is when it was killed, from the start of the load.
	At Duration `json:"at"`
	// Down is from the kill to the start of the new process; Healthy from
	// then until it answered (/healthz 200, or Redis PING). For a
	// failover Down is until the replica was promoted (its slots served
	// again), and Healthy from the killed node's restart until it was a
	// replica in sync.
	Down    Duration `json:"down"`
	Healthy Duration `json:"healthy"`
	// InFlight (bot) is the sends under way through the killed process:
	// the platform had them and the process had not had the answer, or
	// had had it for under 250 ms (not yet recorded, as far as anyone
	// outside can tell). Only these may be repeated. For a failover it is
	// the sends under way, through any process, to the people whose
	// shards the killed master served: their record may not have reached
	// the replica.
	InFlight int `json:"in_flight"`
	// AtRisk (failover) is the messages of the killed master's people
	// whose webhook was answered 2xx from 250 ms before the kill until the
	// promotion: acknowledged by the killed master, perhaps not yet
	// replicated. Only these may be lost; Lost is how many were.
	AtRisk int `json:"accepts_at_risk,omitempty"`
	Lost   int `json:"lost,omitempty"`
	// Rejoined (failover) is whether the killed node came back as a
	// replica in sync.
	Rejoined bool `json:"rejoined,omitempty"`
	// Outstanding is the messages accepted and not yet answered when the
	// restarted process was healthy; LastReply is from then until the
	// last of their replies was complete. Recovered is false when one of
	// them never got its reply.
	Outstanding int      `json:"outstanding"`
	LastReply   Duration `json:"last_reply"`
	Recovered   bool     `json:"recovered"`
	// Repeated is the repeated messages that arrived after this fault and
	// before the next; Unexplained (bot) those of them that were not among
	// the killed process's sends in flight.
	Repeated    int `json:"repeated"`
	Unexplained int `json:"unexplained,omitempty"`

	inFlight []string          // delivery keys of the sends in flight
	atRisk   []msgRef          // failover: the messages at risk
	node     *storetest.Server // failover: the killed node
}

// Duration is a time.Duration that prints and encodes as seconds.
type Duration time.Duration

func (d Duration) String() string { return fmt.Sprintf("%.1fs", time.Duration(d).Seconds()) }

// MarshalJSON encodes seconds, with millisecond precision.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", time.Duration(d).Seconds())), nil
}

// Repeat is one message a platform accepted again.
type Repeat struct {
	At      Duration `json:"at"`
	Channel string   `json:"channel"`
	Person  int      `json:"person"`
	// Text is the start of the message (simulated people: no personal data).
	Text string `json:"text"`
	// Via is the process that sent it again, First the one that sent it
	// first.
	Via   string `json:"via"`
	First string `json:"first"`

	key string
}

// ChaosResult is what a chaos run measured.
type ChaosResult struct {
	// Cluster: the run was on a Redis Cluster (ChaosConfig.Cluster).
	Cluster   bool     `json:"cluster,omitempty"`
	People    int      `json:"people"`
	Processes int      `json:"processes"`
	Seconds   float64  `json:"seconds"`
	Seed      uint64   `json:"seed"`
	Faults    []Fault  `json:"faults"`
	Skipped   []string `json:"skipped_faults,omitempty"`
	// Accepted: messages whose webhook was answered 2xx. Answered: of
	// them, those whose reply came. Lost: accepted and never answered;
	// LostAtRisk: of them, those at risk in a failover (Fault.AtRisk).
	Accepted   int64 `json:"accepted"`
	Answered   int64 `json:"answered"`
	Lost       int64 `json:"lost"`
	LostAtRisk int64 `json:"lost_at_risk,omitempty"`
	// Repeated: messages a platform accepted more than once for a person
	// (same content within one reply and the one before it).
	Repeated int64 `json:"repeated"`
	// RepeatedBeforeFaults is the repeats before the first fault: with no
	// fault there should be none.
	RepeatedBeforeFaults int      `json:"repeated_before_faults"`
	Repeats              []Repeat `json:"repeats,omitempty"`
	// Resent: webhook attempts answered 5xx or not at all, sent again.
	// Refused: messages never answered 2xx (given up after a minute).
	// Rejected: answered 4xx (a bug in the run or the service).
	Resent   int64 `json:"resent"`
	Refused  int64 `json:"refused"`
	Rejected int64 `json:"rejected"`
	// Received: messages the platforms accepted for the people.
	// Unexpected: replies with options when the person waited for none.
	Received   int64 `json:"received"`
	Unexpected int64 `json:"unexpected"`
	Stray      int64 `json:"stray"`
	FloodRests int64 `json:"flood_rests"`
	// Exits are processes that ended without being killed (then started
	// again, as a supervisor would).
	Exits []string `json:"unplanned_exits,omitempty"`
	// KitErrors are what the fake platforms reported.
	KitErrors []string `json:"fake_platform_errors,omitempty"`
	LogDir    string   `json:"log_dir"`
	// LostDetail says, for each lost message (a few), who sent what and
	// what they had received since.
	LostDetail []string `json:"lost_detail,omitempty"`
	// Notes are log lines of the processes that explain faults
	// (mark_sent_failed, send_lock_lost, errors), a few each.
	Notes []string `json:"notes,omitempty"`
}

// chaosRun is one run's state.
type chaosRun struct {
	cfg      ChaosConfig
	t        testing.TB
	tg       *telegramtest.Server
	tw       *smstest.Server
	redis    *storetest.Server
	plat     *platform
	procs    []*botProc
	gates    []*gate
	people   []*chaosPerson
	byPhone  map[string]*chaosPerson
	labels   sync.Map // option label -> id, learnt from Telegram buttons
	client   *http.Client
	start    time.Time
	loadEnd  time.Time
	drainEnd time.Time
	stopping atomic.Bool

	accepted, answered, refused, resent, rejected atomic.Int64
	received, unexpected, stray, rests            atomic.Int64

	mu      sync.Mutex
	repeats []Repeat
	faults  []Fault
	life    sync.Mutex // one kill or restart of a process at a time

	// On Redis Cluster (instead of redis): the cluster, each person's
	// shard, and how often each master's shards (named by the first) were
	// failed over.
	cluster    *storetest.Cluster
	shards     []int
	failedOver map[int]int
}

func (r *chaosRun) progressf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "chaos %6.1fs  "+format+"\n", append([]any{time.Since(r.start).Seconds()}, args...)...)
	}
}

func (r *chaosRun) addRepeat(d delivery, p *chaosPerson, first string) {
	ch := p.channel()
	text, _, _ := strings.Cut(d.content, "\n")
	if len(text) > 60 {
		text = text[:60]
	}
	r.mu.Lock()
	r.repeats = append(r.repeats, Repeat{At: Duration(d.at.Sub(r.start)), Channel: ch, Person: p.idx, Text: text, Via: d.via, First: first, key: d.key()})
	r.mu.Unlock()
}

// Chaos runs cfg. The fake platforms and the Redis server are the test
// kits'; t is the test running them (from `lifeline loadtest -chaos`, a
// stand-in that keeps their clean-ups and errors).
func Chaos(ctx context.Context, t testing.TB, cfg ChaosConfig) (res *ChaosResult, err error) {
	if cfg.People < 2 || cfg.Processes < 1 || cfg.Duration <= 0 || cfg.Command == nil {
		return nil, errors.New("chaos: People ≥ 2, Processes ≥ 1, Duration > 0 and a Command are needed")
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	if cfg.Seed == 0 {
		cfg.Seed = mrand.Uint64()
	}
	defer func() {
		switch v := recover().(type) {
		case nil:
		case kitFatal: // a kit failed under the stand-in for testing.TB
			res, err = nil, fmt.Errorf("chaos: %s", v.msg)
		default:
			panic(v)
		}
	}()
	rng := mrand.New(mrand.NewPCG(cfg.Seed, 1))
	r := &chaosRun{cfg: cfg, t: t, byPhone: map[string]*chaosPerson{}, start: time.Now(),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	dir, err := logDir(cfg.LogDir)
	if err != nil {
		return nil, err
	}

	// The platforms, Redis, and the processes.
	r.tg = telegramtest.NewServer(t)
	r.tw = smstest.NewServer(t)
	r.plat = newPlatform(r.tg, r.tw, cfg.Seed, r.onSend)
	defer r.plat.close()
	dataKey := bytes.Repeat([]byte{9}, 32)
	key := base64.StdEncoding.EncodeToString(dataKey)
	var redisURL string
	if cfg.Cluster {
		r.cluster = storetest.StartCluster(t, chaosMasters, chaosReplicas)
		r.failedOver = map[int]int{}
		redisURL = r.cluster.URL()
	} else {
		r.redis = storetest.StartServer(t)
		redisURL = r.redis.URL()
	}
	for i := range cfg.Processes {
		name := "process " + string(rune('a'+i))
		g, err := r.plat.addGate(name)
		if err != nil {
			return nil, err
		}
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		p := &botProc{name: name, addr: addr, logPath: procLogPath(dir, name), command: cfg.Command, onExit: r.restartExited,
			env: []string{
				"REDIS_URL=" + redisURL, "LIFELINE_DATA_KEY=" + key, "LIFELINE_CONSUMER=chaos-" + string(rune('a'+i)),
				"PUBLIC_URL=" + chaosPublicURL, "QUIET_HOURS=off", "LOG_LEVEL=info",
				"TELEGRAM_BOT_TOKEN=123:chaos", "TELEGRAM_API_URL=" + g.url,
				"TELEGRAM_WEBHOOK_URL=" + chaosPublicURL + "/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET=" + chaosSecret,
				"TELEGRAM_MPS=30",
				"TWILIO_ACCOUNT_SID=" + chaosTwilioSID, "TWILIO_AUTH_TOKEN=" + chaosTwilioToken,
				"TWILIO_FROM=" + chaosTwilioFrom, "TWILIO_API_URL=" + g.url, "TWILIO_MPS=30",
				// Every webhook comes from 127.0.0.1 here.
				"WEBHOOK_IP_RATE=100000", "HTTP_MAX_CONNS_PER_IP=4096", "HTTP_MAX_CONNS=8192",
			}}
		r.gates = append(r.gates, g)
		r.procs = append(r.procs, p)
	}
	defer r.stopAll()
	for _, p := range r.procs {
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	for _, p := range r.procs {
		if _, err := p.waitOK(ctx, "/readyz", 60*time.Second, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}

	// The people.
	for i := range cfg.People {
		p := &chaosPerson{idx: i, telegram: i%2 == 0, wake: make(chan struct{}, 1)}
		if p.telegram {
			p.chat = chatBase + int64(i)
		} else {
			p.phone = smsNumber(i)
			r.byPhone[p.phone] = p
		}
		r.people = append(r.people, p)
	}
	if cfg.Cluster {
		if r.shards, err = shardPeople(r.people, dataKey); err != nil {
			return nil, err
		}
	}
	r.start = time.Now()
	r.loadEnd = r.start.Add(cfg.Duration)
	r.drainEnd = r.loadEnd.Add(cfg.Drain)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range r.people {
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// People start over the first two seconds.
			select {
			case <-runCtx.Done():
				return
			case <-time.After(time.Duration(seed % uint64(2*time.Second))):
			}
			r.live(runCtx, p, mrand.New(mrand.NewPCG(seed, 2)))
		}()
	}
	faultsDone := make(chan []string, 1)
	go func() { faultsDone <- r.inject(runCtx, rng) }()
	wg.Wait()
	skipped := <-faultsDone
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Late repeats: a lock that expires after the last reply.
	time.Sleep(2 * time.Second)
	r.stopAll()
	return r.result(skipped, dir), nil
}

// restartExited starts again, after half a second, a process that ended
// without being killed, as a supervisor would.
func (r *chaosRun) restartExited(p *botProc, state string) {
	p.mu.Lock()
	n := len(p.exits)
	p.mu.Unlock()
	if n > maxRestarts {
		r.progressf("%s exited by itself (%s) %d times: not started again", p.name, state, n)
		return
	}
	r.progressf("%s exited by itself (%s); starting it again", p.name, state)
	go func() {
		time.Sleep(500 * time.Millisecond)
		r.life.Lock()
		defer r.life.Unlock()
		if r.stopping.Load() {
			return
		}
		if err := p.start(); err != nil {
			r.progressf("%s: restart failed: %v", p.name, err)
		}
	}()
}

// maxRestarts bounds how often a process that ends by itself is started
// again.
const maxRestarts = 5

func (r *chaosRun) stopAll() {
	if r.stopping.Swap(true) {
		return
	}
	r.life.Lock()
	defer r.life.Unlock()
	var wg sync.WaitGroup
	for _, p := range r.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// inject kills and restarts at random moments: each fault once the one
// before has recovered, after a pause of 1-4 s, none in the last 12 s of
// the load (so each can recover while people still write). It returns
// the faults that did not fit.
func (r *chaosRun) inject(ctx context.Context, rng *mrand.Rand) []string {
	var kinds []string
	for range r.cfg.BotKills {
		kinds = append(kinds, "bot")
	}
	for range r.cfg.RedisKills {
		kinds = append(kinds, "redis")
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	// The first after everyone is onboarded and writing.
	next := r.start.Add(min(r.cfg.Duration/6, 8*time.Second) + time.Duration(rng.IntN(2000))*time.Millisecond)
	var skipped []string
	for i, kind := range kinds {
		select {
		case <-ctx.Done():
			return append(skipped, kinds[i:]...)
		case <-time.After(time.Until(next)):
		}
		if time.Until(r.loadEnd) < 12*time.Second {
			skipped = append(skipped, kind)
			continue
		}
		var f Fault
		var healthy time.Time
		var err error
		switch {
		case kind == "bot":
			f, healthy, err = r.killBot(ctx, rng)
		case r.cluster != nil:
			kind = "failover"
			f, healthy, err = r.failover(ctx, rng)
		default:
			f, healthy, err = r.killRedis(ctx, rng)
		}
		if err != nil {
			if f.node != nil {
				r.rejoin(&f)
			}
			r.progressf("fault %s: %v", kind, err)
			skipped = append(skipped, kind+": "+err.Error())
			next = time.Now().Add(time.Second)
			continue
		}
		r.awaitRecovery(ctx, &f, healthy)
		if f.Kind == "failover" {
			r.rejoin(&f)
		}
		r.mu.Lock()
		r.faults = append(r.faults, f)
		r.mu.Unlock()
		next = time.Now().Add(time.Duration(1000+rng.IntN(3000)) * time.Millisecond)
	}
	return skipped
}

func (r *chaosRun) killBot(ctx context.Context, rng *mrand.Rand) (Fault, time.Time, error) {
	r.life.Lock()
	defer r.life.Unlock()
	i := rng.IntN(len(r.procs))
	p, g := r.procs[i], r.gates[i]
	kill := time.Now()
	f := Fault{Kind: "bot", Target: p.name, At: Duration(kill.Sub(r.start))}
	flights := g.flight(kill)
	p.kill()
	time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	restart := time.Now()
	f.Down = Duration(restart.Sub(kill))
	if err := p.start(); err != nil {
		return f, time.Time{}, err
	}
	healthy, err := p.waitOK(ctx, "/healthz", 30*time.Second, 25*time.Millisecond)
	if err != nil {
		return f, time.Time{}, err
	}
	// The sends under way at the kill have finished by now.
	f.inFlight = g.keys(flights)
	f.InFlight = len(f.inFlight)
	f.Healthy = Duration(healthy.Sub(restart))
	r.progressf("SIGKILL %s (%d sends in flight); healthy again %s after the restart", p.name, f.InFlight, f.Healthy)
	return f, healthy, nil
}

func (r *chaosRun) killRedis(ctx context.Context, rng *mrand.Rand) (Fault, time.Time, error) {
	kill := time.Now()
	f := Fault{Kind: "redis", Target: "redis-server", At: Duration(kill.Sub(r.start))}
	r.redis.Kill()
	time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
	restart := time.Now()
	f.Down = Duration(restart.Sub(kill))
	if err := r.redis.Start(); err != nil {
		return f, time.Time{}, err
	}
	healthy := time.Now()
	f.Healthy = Duration(healthy.Sub(restart))
	r.progressf("SIGKILL redis-server; down %s, answering again %s after the restart", f.Down, f.Healthy)
	return f, healthy, nil
}

// awaitRecovery waits (up to 30 s) for the replies to every message outstanding
// when the restarted server was healthy.
func (r *chaosRun) awaitRecovery(ctx context.Context, f *Fault, healthy time.Time) {
	type msg struct{ p, k int }
	var out []msg
	for _, p := range r.people {
		p.mu.Lock()
		if p.step > 0 && (p.waiting || p.posting) {
			out = append(out, msg{p.idx, p.step - 1})
		}
		p.mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		done, last, counted := true, healthy, 0
		for _, m := range out {
			p := r.people[m.p]
			p.mu.Lock()
			accepted, answered, posting := p.accepted[m.k], p.answered[m.k], p.posting && p.step-1 == m.k
			p.mu.Unlock()
			switch {
			case posting:
				done = false
			case !accepted:
			case answered.IsZero():
				done = false
				counted++
			default:
				counted++
				if answered.After(last) {
					last = answered
				}
			}
		}
		if done || time.Now().After(deadline) || ctx.Err() != nil {
			f.Outstanding, f.LastReply, f.Recovered = counted, Duration(last.Sub(healthy)), done
			r.progressf("  %d messages were outstanding; the last reply came %s after healthy%s", counted, f.LastReply, map[bool]string{true: "", false: " (NOT ALL CAME within 30s)"}[done])
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// result adds up the run.
func (r *chaosRun) result(skipped []string, dir string) *ChaosResult {
	res := &ChaosResult{
		People: len(r.people), Processes: len(r.procs), Seconds: r.cfg.Duration.Seconds(), Seed: r.cfg.Seed,
		Skipped: skipped, Accepted: r.accepted.Load(), Resent: r.resent.Load(), Refused: r.refused.Load(),
		Rejected: r.rejected.Load(), Received: r.received.Load(), Unexpected: r.unexpected.Load(), Stray: r.stray.Load(),
		FloodRests: r.rests.Load(), LogDir: dir, Cluster: r.cluster != nil,
	}
	r.mu.Lock()
	res.Faults = append(res.Faults, r.faults...)
	res.Repeats = append(res.Repeats, r.repeats...)
	r.mu.Unlock()
	for _, p := range r.people {
		p.mu.Lock()
		for k, ok := range p.accepted {
			if !ok {
				continue
			}
			if p.answered[k].IsZero() {
				res.Lost++
				risk := ""
				if f := lostAtRisk(res.Faults, msgRef{p.idx, k}); f != nil {
					f.Lost++
					res.LostAtRisk++
					risk = fmt.Sprintf(", at risk in the failover at %s", f.At)
				}
				if len(res.LostDetail) < 10 {
					var since []string
					for _, m := range p.cur {
						since = append(since, m.content)
					}
					res.LostDetail = append(res.LostDetail, fmt.Sprintf("%s person %d, message %d (%s%s), received since: %q", p.channel(), p.idx, k+1, p.move, risk, since))
				}
			} else {
				res.Answered++
			}
		}
		p.mu.Unlock()
	}
	sort.Slice(res.Repeats, func(i, j int) bool { return res.Repeats[i].At < res.Repeats[j].At })
	res.Repeated = int64(len(res.Repeats))
	for _, rep := range res.Repeats {
		owner := -1
		for i, f := range res.Faults {
			if f.At <= rep.At {
				owner = i
			}
		}
		switch {
		case owner < 0:
			res.RepeatedBeforeFaults++
		default:
			f := &res.Faults[owner]
			f.Repeated++
			if f.Kind != "redis" && !slices.Contains(f.inFlight, rep.key) {
				f.Unexplained++
			}
		}
	}
	for _, p := range r.procs {
		p.mu.Lock()
		for _, e := range p.exits {
			res.Exits = append(res.Exits, p.name+": "+e)
		}
		p.mu.Unlock()
		for _, l := range p.logLines(8, "mark_sent_failed", "send_lock_lost", "event=fatal", "panic") {
			res.Notes = append(res.Notes, p.name+": "+l)
		}
	}
	if k, ok := r.t.(*kitT); ok {
		res.KitErrors = k.errors()
	}
	return res
}

// lostAtRisk returns the failover at whose kill m was at risk, if any.
func lostAtRisk(faults []Fault, m msgRef) *Fault {
	for i := range faults {
		if faults[i].Kind == "failover" && slices.Contains(faults[i].atRisk, m) {
			return &faults[i]
		}
	}
	return nil
}

// Table prints the result for a person to read.
func (res *ChaosResult) Table(w io.Writer) {
	redis := "redis-server with appendonly yes, appendfsync always"
	if res.Cluster {
		redis = fmt.Sprintf("Redis Cluster of %d masters with %d replica each (appendonly yes, appendfsync everysec), each Redis fault a failover", chaosMasters, chaosReplicas)
	}
	fmt.Fprintf(w, "lifeline loadtest -chaos: %d lifeline processes, %d people (half Telegram, half SMS), %.0fs of load, %s, seed %d\n\n",
		res.Processes, res.People, res.Seconds, redis, res.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "accepted\t%d\tmessages whose webhook was answered 2xx (%d attempts answered 5xx or not at all were sent again with the same id; %d given up, %d refused with 4xx)\n", res.Accepted, res.Resent, res.Refused, res.Rejected)
	fmt.Fprintf(tw, "answered\t%d\taccepted messages whose reply came\n", res.Answered)
	lost := ""
	if res.Cluster {
		lost = fmt.Sprintf(" (%d of them at risk in a failover: acknowledged by the killed master within %s of its kill)", res.LostAtRisk, Duration(riskWindow))
	}
	fmt.Fprintf(tw, "lost\t%d\taccepted messages whose reply never came%s\n", res.Lost, lost)
	fmt.Fprintf(tw, "repeated\t%d\treply messages a platform accepted twice (%d before the first fault)\n", res.Repeated, res.RepeatedBeforeFaults)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "at\tSIGKILL\tdown\thealthy after restart\tsends in flight\taccepts at risk (lost)\toutstanding when healthy\tlast reply after healthy\trepeated")
	for _, f := range res.Faults {
		flight, risk := "-", "-"
		if f.Kind != "redis" {
			flight = fmt.Sprint(f.InFlight)
		}
		if f.Kind == "failover" {
			risk = fmt.Sprintf("%d (%d)", f.AtRisk, f.Lost)
		}
		last := f.LastReply.String()
		if !f.Recovered {
			last = "NOT ALL (" + last + ")"
		}
		repeated := fmt.Sprint(f.Repeated)
		if f.Unexplained > 0 {
			repeated += fmt.Sprintf(" (%d not in flight)", f.Unexplained)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.At, f.Target, f.Down, f.Healthy, flight, risk, f.Outstanding, last, repeated)
	}
	tw.Flush()
	if res.Cluster {
		fmt.Fprintln(w, "failover: down is until the replica was promoted, and \"healthy\" is that moment; \"healthy after restart\" is how long the killed node, started again after the last outstanding reply, took to be a replica in sync")
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "fault not made (no time left): %s\n", s)
	}
	for _, e := range res.Exits {
		fmt.Fprintf(w, "process ended by itself (started again): %s\n", e)
	}
	for _, rep := range res.Repeats {
		fmt.Fprintf(w, "repeat at %s to %s person %d, first sent by %s, again by %s: %q\n", rep.At, rep.Channel, rep.Person, rep.First, rep.Via, rep.Text)
	}
	if res.Unexpected > 0 || res.Stray > 0 {
		fmt.Fprintf(w, "unexpected replies (options while the person waited for none): %d; messages to nobody in the run: %d\n", res.Unexpected, res.Stray)
	}
	for _, e := range res.KitErrors {
		fmt.Fprintf(w, "fake platform: %s\n", e)
	}
	for _, l := range res.LostDetail {
		fmt.Fprintf(w, "lost: %s\n", l)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "log: %s\n", n)
	}
	fmt.Fprintf(w, "\nprocess logs: %s\n", res.LogDir)
}
