// Package loadtest implements "lifeline loadtest": it drives simulated
// people through the real runtime (engine, store, durable work and send
// queues, per-person outbox and senders) against a real Redis, with a
// channel that accepts every send at once, and reports throughput,
// latency, Redis round trips per message, Redis and Go memory per person
// and goroutine counts; with -baseline also Redis's own SET rate on the
// same client, to read the throughput against.
//
// # What it does
//
// Every person first goes through onboarding (greeting, language, consent)
// as a warm-up that is not measured. Then, for -duration, people send a
// realistic mix: mostly the options they were just offered (menu digits,
// lesson "Continue" steps, quiz answers; as button presses in -style
// telegram, as digits in -style sms), plus "menu", invalid text and the
// odd photo. Options that call a coach or open the settings (STOP, delete,
// language) are never chosen.
//
// Closed loop (no -rate): each person sends their next message once the
// reply to the previous one is out; concurrency is the number of people.
// Open loop (-rate R): messages are offered at R per second whatever the
// replies, each to the next person (round robin) who has no message
// waiting; when every person is waiting the offer is counted as skipped
// (the system is then far behind). Latency runs from the Accept call (in
// the open loop, from the moment the message was due, so a load generator
// that falls behind does not hide latency) to the moment the channel sent
// the last message of the reply (known once its record reaches Redis). Throughput counts the replies completed
// in the window (-duration, after -warmup of load).
//
// People respect the runtime's flood limit (runner.FloodLimit messages in
// runner.FloodWindow; beyond it the runtime sets messages aside without a
// reply): a person who sent that many in the last window rests. Each
// person can thus send about 27 messages in the first minute after
// onboarding and 30 a minute after that, so a closed loop measures the
// runtime only while -people × 27 exceeds what it handles in -warmup +
// -duration; flood_rests > 0 in the report says it did not, and that more
// people are needed.
//
// Round trips are counted from the start of the load until every reply is
// out (so a backlog built in the warm-up is not counted as work of the
// window), by a hook on the runtime's Redis client (store.CountTrips):
// each command or pipeline is one, including blocking queue reads, acks
// and the senders' lock, fetch and mark scripts, and divided by the
// replies of that time. The loadtest's own bookkeeping (barriers, memory
// figures, clean-up) uses a second client that is not counted. The hook
// also recognises the sender's final "mark sent" script to learn that a
// person's reply is complete.
//
// Redis bytes per person are MEMORY USAGE (SAMPLES 0) of every key of a
// sample of people once they are idle (store.PersonKeyNames), plus their
// share of the people and subscription sets; used_memory's delta per
// person is reported beside it but moves with everything else the server
// holds (streams, the keys' table, the scripts). That figure
// (redis_bytes_per_person) still holds the records that expire
// store.IdempotencyTTL (48 h) after a person's last message: dedupe ids
// (seen), sent markers (sent), the Telegram message ids of both sides
// (recent). bytes_per_idle_person is what stays after that: the same sum
// without the keys whose PTTL is at most IdempotencyTTL (found by their
// TTL, not by name; redis_short_lived_keys names the suffixes found).
// With one process and no -keep, the short-lived keys of all the
// process's people are then deleted, as their expiry would, and
// used_memory's delta is read again (redis_used_memory_delta_idle_per_person)
// as a cross-check. Go heap per person is
// the HeapInuse delta after a full GC between a baseline (runtime running,
// connection pool full, a few people onboarded) and the idle end, divided
// by the other people; the live-object (HeapAlloc) delta is beside it.
//
// # CPU a message
//
// redis_cpu_us_per_msg is the CPU time Redis used over the measured
// window (INFO cpu's used_cpu_user and used_cpu_sys, summed over the
// masters of a cluster), in µs, divided by the replies completed in the
// window; process_cpu_us_per_msg is this process's likewise (getrusage:
// the runtime with the simulated channel and people driving it). On a
// shared machine whose speed drifts, they compare two versions better
// than rates do. The Redis figure is left out with several processes,
// and counts whatever else the server did meanwhile.
//
// # Baseline
//
// With -baseline, before the runtime starts (and before its round trips
// are counted), -baseline-conns goroutines (default: the pool size of the
// runtime's client, go-redis's 10 × GOMAXPROCS, the most connections the
// runtime can use at once) each SET a 16-byte value on a key of their own
// in the namespace, one after the other, for -baseline-duration (3 s), on
// the runtime's own client; the keys are deleted after. baseline_set_per_s
// is that rate and ratio is msgs_per_sec ÷ baseline_set_per_s: the share
// of a bare Redis's speed (with this client, on this machine) that the
// runtime reaches, comparable between machines where msg/s alone is not.
// 1 / ratio is how many SETs Redis did in the time the runtime took per
// message; it exceeds the round trips per message, since a script costs
// Redis more than a SET (INFO commandstats: usec_per_call), and more so
// when the bottleneck is not Redis (the runtime's CPU, its workers). With
// several processes they all start the baseline at once (a barrier), each
// reports its own: add them as msgs_per_sec is added.
//
// # Profiles
//
// -cpuprofile FILE writes a CPU profile of the measured window (after the
// warm-up, before draining); -memprofile FILE writes heap profiles at the
// end of the window (FILE) and at its start (FILE.base), each after a
// collection. Read them with the binary that ran:
//
//	go build -o lifeline ./cmd/lifeline
//	lifeline loadtest -people 1000 -duration 10s -cpuprofile cpu.out -memprofile mem.out
//	go tool pprof -top -nodecount 25 lifeline cpu.out
//	go tool pprof -top -nodecount 25 -cum lifeline cpu.out
//	go tool pprof -top -sample_index=alloc_space -base mem.out.base lifeline mem.out
//
// The header's "Total samples" over "Duration" is the CPU the process
// used (100% is one core). -top lists functions by flat time (in the
// function itself) with their share of the samples, then cum (with what
// they call); sort by cum (-cum) to see which step of a message costs
// most: runner's handleWork (a turn), handleDelivery (a send) and Accept
// (called by this package's drivers, as a channel would). Flat time goes
// mostly to system calls (internal/runtime/syscall: each Redis round trip
// is a write and a read), then the scheduler (runtime.futex,
// findRunnable), decoding sessions and profiles (encoding/json, under
// store.(*Sealer).OpenJSON), the allocator and the garbage collector
// (mallocgc, gcBgMarkWorker); the encryption itself (crypto/…/gcm) and
// the simulated platform (this package less Accept) are small. The heap
// command lists the bytes allocated in the window by function (-base
// subtracts what was allocated before it); -sample_index=inuse_space on
// mem.out alone shows what is live at its end. Redis's own CPU is not in
// these profiles: INFO cpu (used_cpu_user_main_thread, used_cpu_sys_main_thread)
// before and after a run, or top, tells whether Redis or the process is
// the one near a full core.
//
// # One process
//
//	lifeline loadtest -people 1000 -duration 10s            # closed loop
//	lifeline loadtest -people 1000 -duration 10s -rate 1000 # open loop
//	lifeline loadtest -people 1000 -duration 10s -baseline -json
//
// Redis is -redis, by default $REDIS_URL or else redis://127.0.0.1:6379/0
// (never an embedded one). A fresh key namespace is used and deleted at
// the end (-keep keeps it): "lt" and four hex digits, one no key uses,
// short as production's "ll" is, since every key name carries it and the
// bytes per person count key names.
//
// # Two (or more) processes
//
// Start K processes at once with the same -ns, -people and -processes K
// and each its own -process-index. Process i drives people i, i+K, i+2K, …
// but every process runs a full runtime on the same shared queues, so a
// person's turn or reply may be handled by either process, as with K
// Lifeline processes behind a load balancer. The simulated platform is
// shared through Unix datagram sockets in $TMPDIR (so the processes must
// run on one machine): the process that sends a reply tells the person's
// process. The processes wait for each other after onboarding, after
// draining and before clean-up (through keys in the namespace); process 0
// deletes the namespace at the end.
//
//	ns=lt$(date +%s)
//	lifeline loadtest -ns $ns -processes 2 -process-index 0 -json > p0.json &
//	lifeline loadtest -ns $ns -processes 2 -process-index 1 -json > p1.json &
//	wait
//
// Each process reports its own people: add the msgs_per_sec of the
// processes for the total; for round trips per message divide the sum of
// "roundtrips" by the sum of "roundtrip_replies" (a process's runtime also
// works for the other's people). -rate is per process.
//
// Imports: bot, bot/runner, flows/content and store, and the test kits
// (store/storetest, bot/sms/smstest, bot/telegram/telegramtest) for its
// simulated platform and Redis. No channel adapter and no module: it drives
// the runner itself, as a channel would.
//
// # Chaos
//
//	lifeline loadtest -chaos                                   # 60s, 40 people, 3 + 2 kills
//	lifeline loadtest -chaos -duration 2m -bot-kills 6 -redis-kills 4 -seed 42
//
// starts a redis-server (from PATH) with appendonly yes and appendfsync
// always on a free port, the fake Bot API and fake Twilio of the test kits
// on 127.0.0.1, and -processes (default 2) real `lifeline serve` processes
// (this executable, or -bin) on that Redis, in Telegram webhook mode and
// with SMS. Half the people write on Telegram (buttons, typed numbers,
// MENU, chatter, photos), half by SMS (numbers of offered options), each
// waiting for the whole reply before writing again, through the webhook
// of a process picked at random; a webhook answered 5xx, refused or timed
// out is sent again with the same id (update_id, MessageSid), as Telegram
// and Twilio do, for up to a minute. Each process reaches the platforms
// through a gate of its own, which holds the platform's answer back 10-80
// ms (the trip back) and knows which sends the process has in flight.
//
// Faults come at random moments, each once the previous one has
// recovered, none in the last 12 s of the load: SIGKILL of a process (then
// started again after 0.2-1 s under the same LIFELINE_CONSUMER name) or of
// redis-server (started again after 0.5-2 s on its files). A process that
// ends by itself is started again, at most 5 times, and reported.
//
// It prints: accepted (webhooks answered 2xx), answered (their replies
// came), lost (accepted, no reply by -drain after the load), repeated (a
// message a platform accepted again for the same person: the same content
// within the person's current and previous reply, which is where a resend
// after a crash lands; Telegram buttons carry the prompt number, so a menu
// shown again is not a repeat), and for each fault the sends the killed
// process had in flight, the messages outstanding when the restarted
// server was healthy (/healthz, or PING) and the time from then to the
// last of their replies. It exits 1 when a target of issue 17 is missed
// (ChaosResult.Missed). TestChaos in cmd/lifeline is a 40 s run in CI.
// Every loop is bounded; the run stops by itself.
//
// # Chaos on Redis Cluster
//
//	lifeline loadtest -chaos -cluster -people 60 -duration 2m -redis-kills 5
//
// runs the same on a new Redis Cluster of three masters with a replica
// each (redis-server and redis-cli from PATH; appendonly yes, appendfsync
// everysec, cluster-node-timeout 1 s), the processes given its
// redis-cluster:// URL. Each Redis fault is a failover: SIGKILL of a master
// that serves some people's shards (the one killed least often so far,
// so the faults move around), a wait until its replica is promoted (the
// nodes take it for failed after the node timeout, then elect the
// replica: about 2-3 s without its slots), and, once the replies
// outstanding at the promotion have come, the killed node started again
// on its files; it rejoins as a replica of the promoted one. Down is the
// time to the promotion; "healthy after restart" the rejoin.
//
// What a failover may lose: replication is asynchronous, so what the
// killed master acknowledged and had not yet passed to its replica is
// gone. For Lifeline that is a message accepted (webhook answered 200)
// and never answered, or a send recorded by the killed master and sent
// again after the promotion (as when one redis-server dies unsynced). On
// one machine the replica lags well under a millisecond, so the run
// counts as at risk, for each failover, the messages of the killed
// master's people answered 2xx from 250 ms before the kill until the
// promotion (Fault.AtRisk; none can be answered in between but from what
// the killed master acknowledged) and the sends to them under way at the
// kill (Fault.InFlight, through any process). The targets of issue 21:
// a failover loses only messages at risk (Fault.Lost, ChaosResult.
// LostAtRisk), repeats only sends in flight, the last reply outstanding
// at the promotion comes within TakeoverLimit of it, and the killed node
// rejoins. People elsewhere lose nothing and see no repeat. A lost
// message leaves its person waiting (as a real person would until they
// wrote again); the run reports it in "lost" with where it was at risk.
// TestChaosCluster in cmd/lifeline is a 40 s run with one process kill
// and one failover.
package loadtest
