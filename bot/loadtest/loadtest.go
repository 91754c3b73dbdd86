package loadtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
)

// config is the command line.
type config struct {
	redisURL     string
	ns           string
	people       int
	duration     time.Duration
	warmup       time.Duration
	rate         float64
	workers      int
	drivers      int
	processes    int
	index        int
	style        string
	contentDir   string
	keep         bool
	json         bool
	drain        time.Duration
	replyTimeout time.Duration
	wait         time.Duration
	memSample    int
	verbose      bool
	cpuProfile   string
	memProfile   string
	baseline     bool
	baselineFor  time.Duration
	baseConns    int
	chaos        chaosFlags
}

// Main runs "lifeline loadtest" with args (without the subcommand) and
// returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := config{}
	fs := flag.NewFlagSet("lifeline loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("REDIS_URL")
	if def == "" {
		def = "redis://127.0.0.1:6379/0"
	}
	fs.StringVar(&cfg.redisURL, "redis", def, "Redis URL (default: $REDIS_URL or the local Redis)")
	fs.StringVar(&cfg.ns, "ns", "", "key namespace (default: a fresh one; required with -processes > 1, the same in every process)")
	fs.IntVar(&cfg.people, "people", 1000, "simulated people (in all processes together)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the measured window")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "load before the window opens, so it measures a steady state")
	fs.Float64Var(&cfg.rate, "rate", 0, "open loop: messages offered per second by this process (0: closed loop, each person waits for the reply)")
	fs.IntVar(&cfg.workers, "workers", runner.DefaultWorkers, "runtime workers (runner.Config.Workers)")
	fs.IntVar(&cfg.drivers, "drivers", 32, "goroutines offering messages (they call Accept)")
	fs.IntVar(&cfg.processes, "processes", 1, "loadtest processes sharing the namespace")
	fs.IntVar(&cfg.index, "process-index", 0, "this process's index, 0 … processes-1; it drives people index, index+processes, …")
	fs.StringVar(&cfg.style, "style", "telegram", "telegram (button presses, platform message ids) or sms (digits, no message ids)")
	fs.StringVar(&cfg.contentDir, "content", "", "content directory (default: the shipped content)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the namespace's keys at the end")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object instead of a table")
	fs.DurationVar(&cfg.drain, "drain", 30*time.Second, "how long to wait for replies after the window")
	fs.DurationVar(&cfg.replyTimeout, "reply-timeout", 10*time.Second, "a reply not sent by then is counted lost")
	fs.DurationVar(&cfg.wait, "wait", 5*time.Minute, "how long processes wait for each other")
	fs.IntVar(&cfg.memSample, "mem-sample", 200, "people whose keys are measured with MEMORY USAGE")
	fs.BoolVar(&cfg.verbose, "v", false, "log the runtime's info messages")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured window to this file")
	fs.StringVar(&cfg.memProfile, "memprofile", "", "write heap profiles at the end of the measured window to this file and at its start to this file + .base")
	fs.BoolVar(&cfg.baseline, "baseline", false, "before the load, measure Redis's own SET rate with the runtime's client and report msg/s ÷ SET/s")
	fs.DurationVar(&cfg.baselineFor, "baseline-duration", 3*time.Second, "how long -baseline measures")
	fs.IntVar(&cfg.baseConns, "baseline-conns", 0, "goroutines (and connections) of -baseline (default: the client's pool size, as the runtime has)")
	cfg.chaos.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lifeline loadtest [flags]\n\nDrives simulated people through the real runtime against Redis and reports\nthroughput, latency, Redis round trips and memory. With -chaos, drives them\nthrough real lifeline processes and kills those and Redis (see -chaos). Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if cfg.chaos.on {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return chaosMain(ctx, cfg, set, stdout, stderr)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "lifeline loadtest:", err)
		return 2
	}
	res, err := run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "lifeline loadtest:", err)
		return 1
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "lifeline loadtest:", err)
			return 1
		}
	} else {
		res.table(stdout)
	}
	if res.Messages == 0 {
		fmt.Fprintln(stderr, "lifeline loadtest: no reply completed in the window")
		return 1
	}
	return 0
}

func (c *config) check() error {
	switch {
	case c.fsArgsBad():
		return errors.New("-people, -workers, -drivers, -processes and -mem-sample must be positive, -duration, -drain, -reply-timeout, -wait and -baseline-duration too")
	case c.index < 0 || c.index >= c.processes:
		return fmt.Errorf("-process-index must be in 0 … %d", c.processes-1)
	case c.processes > 1 && c.ns == "":
		return errors.New("-processes > 1 needs the same -ns in every process (e.g. -ns lt$(date +%s))")
	case c.people < c.processes:
		return errors.New("-people must be at least -processes")
	case c.style != "telegram" && c.style != "sms":
		return errors.New("-style is telegram or sms")
	case c.rate < 0:
		return errors.New("-rate must not be negative")
	case c.redisURL == "":
		return errors.New("-redis is empty: the load test needs a real Redis")
	case c.ns == "ll":
		return errors.New("-ns ll is the production namespace: pick another")
	case strings.ContainsAny(c.ns, "*?[]\\:{} "):
		return errors.New("-ns must be a plain word (letters, digits, - and _)")
	}
	return nil
}

func (c *config) fsArgsBad() bool {
	return c.people <= 0 || c.workers <= 0 || c.drivers <= 0 || c.processes <= 0 || c.memSample <= 0 || c.duration <= 0 ||
		c.drain <= 0 || c.replyTimeout <= 0 || c.wait <= 0 || c.warmup < 0 || c.baselineFor <= 0 || c.baseConns < 0
}

// Result is what a run reports. The first seven fields are the headline
// figures; the rest explain them.
type Result struct {
	MsgsPerSec       float64 `json:"msgs_per_sec"`
	P50ms            float64 `json:"p50_ms"`
	P99ms            float64 `json:"p99_ms"`
	RoundtripsPerMsg float64 `json:"redis_roundtrips_per_msg"`
	// RedisBytesPerPerson is an idle person's keys now, with the records
	// that expire IdempotencyTTL after their last message;
	// RedisBytesPerIdlePerson is without them, once they expired.
	RedisBytesPerPerson     float64 `json:"redis_bytes_per_person"`
	RedisBytesPerIdlePerson float64 `json:"bytes_per_idle_person"`
	GoHeapBytesPerPerson    float64 `json:"go_heap_bytes_per_person"`

	// BaselineSetPerSec (-baseline) is Redis's own SET rate, measured
	// before the load with the runtime's client by BaselineConns
	// goroutines; Ratio is MsgsPerSec ÷ BaselineSetPerSec.
	BaselineSetPerSec float64 `json:"baseline_set_per_s,omitempty"`
	BaselineConns     int     `json:"baseline_conns,omitempty"`
	Ratio             float64 `json:"ratio,omitempty"`

	// RedisCPUPerMsg is the CPU time Redis used in the measured window
	// (INFO cpu, all masters) per reply completed in it, in µs: what one
	// message costs Redis, on a machine where speed drifts as much as
	// rates do (one process only, and Redis busy with nothing else).
	// ProcessCPUPerMsg is this process's likewise: the runtime and the
	// simulated channel and people driving it.
	RedisCPUPerMsg   float64 `json:"redis_cpu_us_per_msg,omitempty"`
	ProcessCPUPerMsg float64 `json:"process_cpu_us_per_msg"`

	Mode         string  `json:"mode"` // closed or open
	Rate         float64 `json:"rate,omitempty"`
	Style        string  `json:"style"`
	Processes    int     `json:"processes"`
	ProcessIndex int     `json:"process_index"`
	People       int     `json:"people"`       // in all processes
	OwnPeople    int     `json:"own_people"`   // driven by this process
	Workers      int     `json:"workers"`      // runtime workers
	Seconds      float64 `json:"seconds"`      // measured window
	OnboardSecs  float64 `json:"onboard_secs"` // warm-up: everyone's onboarding
	Messages     int64   `json:"messages"`     // replies completed in the window
	// Roundtrips are this process's runtime's, from the start of the load
	// (warm-up included) until every process drained; RoundtripReplies
	// are the replies to this process's people in that time.
	Roundtrips       int64 `json:"roundtrips"`
	RoundtripReplies int64 `json:"roundtrip_replies"`
	// RoundtripGroups and RoundtripDetail are per reply.
	RoundtripGroups map[string]float64 `json:"roundtrips_breakdown"`
	RoundtripDetail map[string]float64 `json:"roundtrips_detail"`
	// RoundtripOther names what "other" was, per reply: command and the
	// last part of its first key.
	RoundtripOther map[string]float64 `json:"roundtrips_other,omitempty"`
	P90ms          float64            `json:"p90_ms"`
	P999ms         float64            `json:"p999_ms"`
	MaxMs          float64            `json:"max_ms"`
	SentMsgs       int64              `json:"sent_msgs"` // messages the channel sent, all phases
	NoReply        int64              `json:"no_reply"`
	Unexpected     int64              `json:"unexpected_replies"`
	AcceptErrors   int64              `json:"accept_errors"`
	OffersSkipped  int64              `json:"offers_skipped"` // open loop: every person was waiting or resting
	// FloodRests counts (closed loop) how often a person had to wait
	// because they had sent runner.FloodLimit messages in runner.FloodWindow:
	// then throughput was limited by the number of people, not the runtime.
	FloodRests int64 `json:"flood_rests"`
	PeerErrors int   `json:"peer_errors,omitempty"`
	// RedisBytesMethod says how RedisBytesPerPerson was measured.
	RedisBytesMethod  string             `json:"redis_bytes_method"`
	RedisKeyBytes     map[string]float64 `json:"redis_key_bytes"`    // average per person, by key suffix
	RedisSharedBytes  map[string]int64   `json:"redis_shared_bytes"` // the namespace's global keys
	RedisUsedMemDelta float64            `json:"redis_used_memory_delta_per_person"`
	// RedisShortLived are the suffixes of the sampled keys whose time to
	// live was at most store.IdempotencyTTL (left out of
	// RedisBytesPerIdlePerson). RedisUsedMemDeltaIdle is used_memory's
	// delta per person once those keys of all this process's people are
	// deleted, as their expiry would (one process without -keep only).
	RedisShortLived       []string `json:"redis_short_lived_keys"`
	RedisUsedMemDeltaIdle float64  `json:"redis_used_memory_delta_idle_per_person,omitempty"`
	GoroutinesBefore      int      `json:"goroutines_before"`
	GoroutinesPeak        int      `json:"goroutines_peak"`
	GoroutinesAfter       int      `json:"goroutines_after"`
	HeapInuseBefore       uint64   `json:"heap_inuse_before"`
	HeapInuseAfter        uint64   `json:"heap_inuse_after"`
	// GoLiveBytesPerPerson is the HeapAlloc (live objects) delta per person:
	// HeapInuse also moves with how full the spans are.
	GoLiveBytesPerPerson float64 `json:"go_live_bytes_per_person"`
	Namespace            string  `json:"ns"`
}

func run(ctx context.Context, cfg config, stderr io.Writer) (*Result, error) {
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	rdb, closeRDB, err := store.Open(ctx, cfg.redisURL, log)
	if err != nil {
		return nil, err
	}
	defer closeRDB()
	ctlRDB, closeCtl, err := store.Open(ctx, cfg.redisURL, log) // bookkeeping, not counted
	if err != nil {
		return nil, err
	}
	defer closeCtl()
	ns := cfg.ns
	if ns == "" {
		// Short, as production's "ll" is, since every key carries it
		// and the figures per person count key names; checked empty.
		ns = "lt" + randomHex(2)
	}
	ctl := store.New(ctlRDB, ns)
	if err := ctl.Ping(ctx); err != nil {
		return nil, fmt.Errorf("redis %s: %w", cfg.redisURL, err)
	}
	for tries := 0; cfg.ns == "" && tries < 20; tries++ {
		if empty, err := ctl.Empty(ctx); err != nil || empty {
			break
		}
		ns = "lt" + randomHex(2) // in use by another run: another
		ctl = store.New(ctlRDB, ns)
	}
	if cfg.ns != "" && cfg.processes == 1 {
		empty, err := ctl.Empty(ctx)
		if err != nil {
			return nil, err
		}
		if !empty {
			return nil, fmt.Errorf("namespace %q already has keys: pick a fresh -ns", ns)
		}
	}

	cont, err := content.Load(cfg.contentDir, "en", "")
	if err != nil {
		return nil, err
	}
	k := sha256.Sum256([]byte("lifeline loadtest key: not secret"))
	sealer, err := store.NewSealer(k[:], k[:])
	if err != nil {
		return nil, err
	}
	st := store.New(rdb, ns, store.WithSealer(sealer))
	// The baseline runs on the runtime's own client before the trip
	// counter is hooked on and before the runtime takes connections for
	// its blocking reads.
	var baseline float64
	baseConns := cfg.baseConns
	if cfg.baseline {
		if baseConns == 0 {
			baseConns = st.PoolSize()
		}
		if err := barrier(ctx, ctl, "baseline", cfg.processes, cfg.wait, true); err != nil {
			return nil, err
		}
		if baseline, err = st.SetRate(ctx, cfg.baselineFor, baseConns); err != nil {
			return nil, err
		}
	}
	s := newSim(sealer.PersonID, cfg.people, cfg.processes, cfg.index, cfg.style, cfg.rate == 0)
	hook := st.CountTrips(s.delivered)
	rt := runner.New(runner.Config{
		Store: st, Content: cont, Channels: []bot.Channel{s}, Log: log,
		Workers: cfg.workers, Consumer: fmt.Sprintf("loadtest-%d-%s", cfg.index, randomHex(4)),
	})
	s.rt = rt
	if cfg.processes > 1 {
		p, err := listenPeers(ns, cfg.index, s.replied, s.internID)
		if err != nil {
			return nil, err
		}
		defer p.close()
		s.peers = p
	}
	usedBefore := ctl.UsedMemory(ctx)

	runCtx, stopRuntime := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- rt.Run(runCtx) }()
	driveCtx, stopDrivers := context.WithCancel(ctx)
	var drivers sync.WaitGroup
	// shutdown stops the simulated people, then the runtime.
	var runErr error
	shutdown := sync.OnceFunc(func() {
		stopDrivers()
		drivers.Wait()
		stopRuntime()
		select {
		case err := <-runDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				runErr = err
			}
		case <-time.After(15 * time.Second):
			runErr = errors.New("runtime did not stop within 15s")
		}
	})
	cleaned := false
	defer func() {
		shutdown()
		// After a failure a lone process still cleans up; processes
		// sharing a namespace leave it (delete "<ns>:*" by hand).
		if !cleaned && !cfg.keep && cfg.processes == 1 {
			_ = ctl.DeleteAll(context.WithoutCancel(ctx))
		}
	}()
	for i := range cfg.drivers {
		drivers.Add(1)
		go func() { defer drivers.Done(); s.drive(driveCtx, uint64(i)+1) }()
	}
	drivers.Add(1)
	go func() { defer drivers.Done(); s.sweep(driveCtx, cfg.replyTimeout) }()

	// Warm-up: fill the connection pool, onboard a few people, take the
	// Go baseline (the runtime, its pools and the simulation's fixed state
	// are all allocated by then), then onboard everyone else.
	st.FillPool(ctx)
	t0 := time.Now()
	pilot := min(len(s.owned), max(1, len(s.owned)/20), 50)
	if err := s.onboard(ctx, s.owned[:pilot], cfg.wait); err != nil {
		return nil, err
	}
	heapBefore, allocBefore := heapAfterGC()
	gBefore := runtime.NumGoroutine()
	if err := s.onboard(ctx, s.owned[pilot:], cfg.wait); err != nil {
		return nil, err
	}
	onboardSecs := time.Since(t0).Seconds()
	if err := barrier(ctx, ctl, "onboarded", cfg.processes, cfg.wait, true); err != nil {
		return nil, err
	}

	// The load, then after the warm-up the measured window. Round trips
	// are counted from the start of the load until every process has
	// drained, and divided by the replies of that whole time, so no reply
	// is counted without its round trips or the other way round.
	loadStart := time.Now()
	t0trips, t0others, t0replies := hook.Snapshot(), hook.Others(), s.completed.Load()
	s.phase.Store(phaseMeasure)
	var peak atomic.Int64
	peak.Store(int64(runtime.NumGoroutine()))
	sampleCtx, stopSampling := context.WithCancel(ctx)
	go bot.Every(sampleCtx, 50*time.Millisecond, func() error {
		if n := int64(runtime.NumGoroutine()); n > peak.Load() {
			peak.Store(n)
		}
		return nil
	})
	if s.closed {
		for _, idx := range s.owned {
			s.tasks <- task{idx: idx}
		}
	} else {
		drivers.Add(1)
		go func() {
			defer drivers.Done()
			s.offer(driveCtx, cfg.rate, loadStart, loadStart.Add(cfg.warmup+cfg.duration))
		}()
	}
	defer stopSampling()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cfg.warmup):
	}
	prof := profiles{cpu: cfg.cpuProfile, mem: cfg.memProfile}
	if err := prof.start(); err != nil {
		return nil, err
	}
	start := time.Now()
	s.winStart.Store(start.UnixNano())
	redisCPU0, ownCPU0 := ctl.UsedCPU(ctx), processCPU()
	select {
	case <-ctx.Done():
		_ = prof.stop(false)
		return nil, ctx.Err()
	case <-time.After(cfg.duration):
	}
	end := time.Now()
	redisCPU, ownCPU := ctl.UsedCPU(ctx)-redisCPU0, processCPU()-ownCPU0
	if err := prof.stop(true); err != nil {
		return nil, err
	}
	s.winEnd.Store(end.UnixNano())
	s.phase.Store(phaseDrain)
	inWindow := s.inWindow.Load()
	stopSampling()

	// Drain: every waiting reply out (or given up).
	deadline := time.Now().Add(cfg.drain)
	for s.waitingN.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if err := barrier(ctx, ctl, "drained", cfg.processes, cfg.wait, true); err != nil {
		return nil, err
	}
	trips, others := hook.Snapshot().Minus(t0trips), hook.Others()
	tripReplies := s.completed.Load() - t0replies

	// People are idle now: measure memory with the runtime still running,
	// as at the baseline.
	heapAfter, allocAfter := heapAfterGC()
	gAfter := runtime.NumGoroutine()
	mem, err := personBytes(ctx, ctl, sealer, s, cfg.memSample)
	if err != nil {
		return nil, err
	}
	shared, err := ctl.SharedKeyBytes(ctx, "loadtest:")
	if err != nil {
		return nil, err
	}
	usedAfter := ctl.UsedMemory(ctx)
	var usedIdle uint64
	if cfg.processes == 1 && !cfg.keep {
		if err := expireShortLived(ctx, ctl, sealer, s); err != nil {
			return nil, err
		}
		usedIdle = ctl.UsedMemory(ctx)
	}

	shutdown()
	if runErr != nil {
		return nil, runErr
	}
	if err := barrier(ctx, ctl, "stopped", cfg.processes, cfg.wait, cfg.index == 0); err != nil {
		return nil, err
	}
	cleaned = true
	if !cfg.keep && cfg.index == 0 {
		if err := ctl.DeleteAll(context.WithoutCancel(ctx)); err != nil {
			return nil, fmt.Errorf("delete namespace %s: %w", ns, err)
		}
	}

	// The report.
	secs := end.Sub(start).Seconds()
	res := &Result{
		Mode: "closed", Rate: cfg.rate, Style: cfg.style, Processes: cfg.processes, ProcessIndex: cfg.index,
		People: cfg.people, OwnPeople: len(s.owned), Workers: cfg.workers, Seconds: secs, OnboardSecs: onboardSecs,
		Messages: inWindow, Roundtrips: trips.Total(), RoundtripReplies: tripReplies, MsgsPerSec: float64(inWindow) / secs,
		P50ms: ms(s.lat.quantile(0.50)), P90ms: ms(s.lat.quantile(0.90)), P99ms: ms(s.lat.quantile(0.99)),
		P999ms: ms(s.lat.quantile(0.999)), MaxMs: ms(time.Duration(s.lat.max.Load())),
		SentMsgs: s.sent.Load(), NoReply: s.noReply.Load(), Unexpected: s.unexpected.Load(),
		AcceptErrors: s.acceptErrs.Load(), OffersSkipped: s.skipped.Load(), FloodRests: s.rests.Load(),
		RedisBytesMethod: fmt.Sprintf("MEMORY USAGE (SAMPLES 0) of every key of %d sampled people, plus their share of the people and subscription sets", min(cfg.memSample, len(s.owned))),
		RedisKeyBytes:    mem.byKey, RedisSharedBytes: shared, RedisShortLived: mem.shortLived,
		RedisUsedMemDelta: float64(int64(usedAfter)-int64(usedBefore)) / float64(cfg.people),
		GoroutinesBefore:  gBefore, GoroutinesPeak: int(peak.Load()), GoroutinesAfter: gAfter,
		HeapInuseBefore: heapBefore, HeapInuseAfter: heapAfter, Namespace: ns,
		RoundtripGroups: map[string]float64{}, RoundtripDetail: map[string]float64{},
	}
	if inWindow > 0 {
		res.ProcessCPUPerMsg = float64(ownCPU.Microseconds()) / float64(inWindow)
		if cfg.processes == 1 && redisCPU > 0 {
			res.RedisCPUPerMsg = float64(redisCPU.Microseconds()) / float64(inWindow)
		}
	}
	if !s.closed {
		res.Mode = "open"
	}
	if s.peers != nil {
		res.PeerErrors = s.peers.errors()
	}
	var setBytes int64
	for k, v := range shared {
		if k == "people" || strings.HasPrefix(k, "sub:") {
			setBytes += v
		}
	}
	res.RedisBytesPerPerson = mem.total + float64(setBytes)/float64(cfg.people)
	res.RedisBytesPerIdlePerson = mem.idle + float64(setBytes)/float64(cfg.people)
	if usedIdle > 0 {
		res.RedisUsedMemDeltaIdle = float64(int64(usedIdle)-int64(usedBefore)) / float64(cfg.people)
	}
	if cfg.baseline {
		res.BaselineSetPerSec, res.BaselineConns = baseline, baseConns
		if baseline > 0 {
			res.Ratio = res.MsgsPerSec / baseline
		}
	}
	if measured := len(s.owned) - pilot; measured > 0 {
		res.GoHeapBytesPerPerson = float64(int64(heapAfter)-int64(heapBefore)) / float64(measured)
		res.GoLiveBytesPerPerson = float64(int64(allocAfter)-int64(allocBefore)) / float64(measured)
	}
	if tripReplies > 0 {
		n := float64(tripReplies)
		res.RoundtripsPerMsg = float64(trips.Total()) / n
		for i, v := range trips {
			res.RoundtripDetail[store.Trip(i).String()] = round3(float64(v) / n)
			res.RoundtripGroups[store.Trip(i).Group()] += float64(v) / n
		}
		for g, v := range res.RoundtripGroups {
			res.RoundtripGroups[g] = round3(v)
		}
		res.RoundtripOther = map[string]float64{}
		for name, v := range others {
			if per := round3(float64(v-t0others[name]) / n); per > 0 {
				res.RoundtripOther[name] = per
			}
		}
	}
	return res, nil
}

// onboard takes people through onboarding (closed loop) and waits until
// they all are through.
func (s *sim) onboard(ctx context.Context, people []int32, wait time.Duration) error {
	goal := s.onboarded.Load() + int64(len(people))
	for _, idx := range people {
		s.tasks <- task{idx: idx}
	}
	deadline := time.Now().Add(wait)
	for s.onboarded.Load() < goal {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("onboarding: %d of %d people through after %s", s.onboarded.Load(), goal, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// barrier waits until all processes reached the step name (through a
// counter in the namespace). With wait false it only signals arrival.
func barrier(ctx context.Context, ctl *store.Store, name string, processes int, timeout time.Duration, wait bool) error {
	if processes == 1 {
		return nil
	}
	if err := ctl.Arrive(ctx, name); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		n, err := ctl.Arrived(ctx, name)
		if err != nil {
			return err
		}
		if n >= processes {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for the other processes at %q (%d of %d there)", timeout, name, n, processes)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// memFigures are the bytes per person of a sample of people's keys.
type memFigures struct {
	byKey      map[string]float64 // average, by key suffix
	total      float64            // every key
	idle       float64            // the keys that are not short-lived
	shortLived []string           // suffixes of the short-lived keys
}

// personBytes measures the keys of a sample of this process's people
// (MEMORY USAGE), and tells the short-lived ones by their time to live.
func personBytes(ctx context.Context, ctl *store.Store, sealer *store.Sealer, s *sim, sample int) (memFigures, error) {
	n := min(sample, len(s.owned))
	stride := len(s.owned) / n
	var keys []string
	for i := range n {
		keys = append(keys, personKeys(ctl, sealer, s.owned[i*stride])...)
	}
	sizes, err := ctl.MemoryUsage(ctx, keys)
	if err != nil {
		return memFigures{}, err
	}
	ttls, err := ctl.KeyTTLs(ctx, keys)
	if err != nil {
		return memFigures{}, err
	}
	f := memFigures{byKey: map[string]float64{}}
	short := map[string]bool{}
	for i, v := range sizes {
		if v < 0 {
			continue
		}
		name := keys[i][strings.LastIndexByte(keys[i], ':')+1:]
		b := float64(v) / float64(n)
		f.byKey[name] += b
		f.total += b
		if store.ShortLived(ttls[i]) {
			short[name] = true
		} else {
			f.idle += b
		}
	}
	for k, v := range f.byKey {
		f.byKey[k] = round3(v)
	}
	f.shortLived = make([]string, 0, len(short))
	for k := range short {
		f.shortLived = append(f.shortLived, k)
	}
	sort.Strings(f.shortLived)
	return f, nil
}

// expireShortLived deletes the short-lived keys of all this process's
// people, as their expiry will, so that used_memory shows idle people.
func expireShortLived(ctx context.Context, ctl *store.Store, sealer *store.Sealer, s *sim) error {
	const batch = 500 // people a round trip
	for lo := 0; lo < len(s.owned); lo += batch {
		var keys []string
		for _, idx := range s.owned[lo:min(lo+batch, len(s.owned))] {
			keys = append(keys, personKeys(ctl, sealer, idx)...)
		}
		ttls, err := ctl.KeyTTLs(ctx, keys)
		if err != nil {
			return err
		}
		short := keys[:0]
		for i, k := range keys {
			if store.ShortLived(ttls[i]) {
				short = append(short, k)
			}
		}
		if err := ctl.DeleteKeys(ctx, short); err != nil {
			return err
		}
	}
	return nil
}

func personKeys(ctl *store.Store, sealer *store.Sealer, idx int32) []string {
	return ctl.PersonKeyNames(sealer.PersonID(channelName, address(int(idx))))
}

// heapAfterGC returns HeapInuse (bytes in spans holding objects) and
// HeapAlloc (bytes of live objects) after a full collection.
func heapAfterGC() (inuse, alloc uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.HeapAlloc
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}

// table prints the result for a person to read.
func (r *Result) table(w io.Writer) {
	mode := "closed loop (each person waits for the reply)"
	if r.Mode == "open" {
		mode = fmt.Sprintf("open loop at %.0f msg/s offered", r.Rate)
	}
	fmt.Fprintf(w, "lifeline loadtest: %s, %s style, process %d of %d, %d of %d people, %d workers, %.1fs (onboarding %.1fs before)\n\n",
		mode, r.Style, r.ProcessIndex+1, r.Processes, r.OwnPeople, r.People, r.Workers, r.Seconds, r.OnboardSecs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "messages handled\t%d\t(%.0f msg/s)\n", r.Messages, r.MsgsPerSec)
	if r.BaselineSetPerSec > 0 {
		fmt.Fprintf(tw, "Redis SET baseline\t%.0f SET/s\t(before the load, %d connections; msg/s ÷ SET/s = %.4f)\n", r.BaselineSetPerSec, r.BaselineConns, r.Ratio)
	}
	fmt.Fprintf(tw, "latency p50 / p90 / p99 / p99.9 / max\t%.2f / %.2f / %.2f / %.2f / %.2f ms\t\n", r.P50ms, r.P90ms, r.P99ms, r.P999ms, r.MaxMs)
	groups := make([]string, 0, len(r.RoundtripGroups))
	for g, v := range r.RoundtripGroups {
		if v > 0 {
			groups = append(groups, fmt.Sprintf("%s %.2f", g, v))
		}
	}
	sort.Strings(groups)
	fmt.Fprintf(tw, "Redis round trips per message\t%.2f\t(%s)\n", r.RoundtripsPerMsg, strings.Join(groups, ", "))
	keys := make([]string, 0, len(r.RedisKeyBytes))
	for k, v := range r.RedisKeyBytes {
		keys = append(keys, fmt.Sprintf("%s %.0f", k, v))
	}
	sort.Strings(keys)
	idle := ""
	if r.RedisUsedMemDeltaIdle != 0 {
		idle = fmt.Sprintf("; used_memory delta %.0f", r.RedisUsedMemDeltaIdle)
	}
	fmt.Fprintf(tw, "Redis bytes per idle person\t%.0f\t(once the %s records expire, %s after the last message%s)\n", r.RedisBytesPerIdlePerson, strings.Join(r.RedisShortLived, ", "), store.IdempotencyTTL, idle)
	fmt.Fprintf(tw, "… with those records\t%.0f\t(MEMORY USAGE of sampled keys: %s; used_memory delta %.0f)\n", r.RedisBytesPerPerson, strings.Join(keys, ", "), r.RedisUsedMemDelta)
	fmt.Fprintf(tw, "Go heap bytes per person\t%.0f\t(HeapInuse %d → %d after GC; live objects %.0f per person)\n", r.GoHeapBytesPerPerson, r.HeapInuseBefore, r.HeapInuseAfter, r.GoLiveBytesPerPerson)
	verdict := "no goroutine per person"
	if r.GoroutinesPeak-r.GoroutinesBefore >= r.OwnPeople/2 && r.OwnPeople >= 20 {
		verdict = "GOROUTINES GROW WITH PEOPLE"
	}
	fmt.Fprintf(tw, "goroutines before / peak / after\t%d / %d / %d\t(%d people: %s)\n", r.GoroutinesBefore, r.GoroutinesPeak, r.GoroutinesAfter, r.OwnPeople, verdict)
	if r.NoReply+r.Unexpected+r.AcceptErrors+r.OffersSkipped+int64(r.PeerErrors) > 0 {
		fmt.Fprintf(tw, "problems\tno reply %d, unexpected replies %d, accept errors %d, offers skipped %d, peer errors %d\t\n", r.NoReply, r.Unexpected, r.AcceptErrors, r.OffersSkipped, r.PeerErrors)
	}
	tw.Flush()
	if r.FloodRests > 0 {
		fmt.Fprintf(w, "\nnote: people waited %d times for the flood limit (%d messages a %s each): throughput was limited by -people, not by the runtime; use more people\n", r.FloodRests, runner.FloodLimit, runner.FloodWindow)
	}
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
