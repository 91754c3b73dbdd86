package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/broadcast"
	"github.com/lifeline-org/lifeline/bot/checkin"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/bot/console"
	"github.com/lifeline-org/lifeline/bot/loadtest"
	"github.com/lifeline-org/lifeline/bot/metrics"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/bot/sms"
	"github.com/lifeline-org/lifeline/bot/telegram"
	"github.com/lifeline-org/lifeline/bot/workspace"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
	"github.com/lifeline-org/lifeline/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "-h", "--help", "help":
		PrintHelp(stdout)
		return 0
	}
	if cmd == "loadtest" {
		// The load tool makes its own store and people; it needs no
		// channel or key.
		return loadtest.Main(ctx, args, stdout, stderr)
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "lifeline: configuration:", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	switch cmd {
	case "serve":
		if err := serve(ctx, cfg, getenv, log, stdin, stdout); err != nil {
			log.Error("lifeline stopped", "event", "fatal", "error", err)
			return 1
		}
		return 0
	case "crisis":
		return crisisCmd(args, cfg, stdin, stdout, stderr)
	case "translations":
		return translationsCmd(args, stdout, stderr)
	case "check":
		dir := cfg.ContentDir
		if len(args) > 0 {
			dir = args[0]
		}
		return check(dir, cfg, stdout, stderr)
	case "rotate-key":
		if cfg.OldDataKeys == "" {
			fmt.Fprintln(stderr, "lifeline rotate-key: set LIFELINE_DATA_KEY to the new key and LIFELINE_OLD_DATA_KEYS to the old one(s)")
			return 2
		}
		return tool(ctx, cfg, log, stderr, func(b *base, _ *runner.Runtime) int {
			n, err := b.st.Reseal(ctx, b.sealer)
			if err != nil {
				fmt.Fprintln(stderr, "lifeline rotate-key:", err)
				return 1
			}
			fmt.Fprintf(stdout, "re-encrypted %d values under key %s; keep the old key in LIFELINE_OLD_DATA_KEYS until the queues drain\n", n, b.sealer.CurrentKeyID())
			return 0
		})
	case "staff":
		return tool(ctx, cfg, log, stderr, func(b *base, _ *runner.Runtime) int {
			return staffCmd(ctx, web.NewAccounts(b.st, b.sealer, nil), b.st, consoleURL(cfg), args, stdin, stdout, stderr)
		})
	case "audit":
		return tool(ctx, cfg, log, stderr, func(b *base, _ *runner.Runtime) int { return audit(ctx, b.st, stdout, stderr) })
	case "broadcast", "jobs":
		return tool(ctx, cfg, log, stderr, func(_ *base, rt *runner.Runtime) int {
			return broadcast.Main(ctx, rt, append([]string{cmd}, args...), stdout, stderr)
		})
	case "stats":
		return tool(ctx, cfg, log, stderr, func(b *base, rt *runner.Runtime) int {
			return checkin.Main(ctx, rt, checkin.Config{Quiet: cfg.QuietHours, DefaultTZ: b.loc, Cadence: b.cad, Log: log}, args, stdout, stderr)
		})
	}
	fmt.Fprintf(stderr, "lifeline: unknown command %q (try lifeline --help)\n", cmd)
	return 2
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// check validates content and prints one line per problem.
func check(dir string, cfg *Config, stdout, stderr io.Writer) int {
	c, err := content.Load(dir, cfg.DefaultLanguage, cfg.ResourcePack)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	failed := false
	if _, err := checkin.LoadCadence(dir); err != nil {
		fmt.Fprintln(stdout, "cadence.yaml:", err)
		failed = true
	}
	for _, p := range c.Check(time.Now(), goMessages()...) {
		fmt.Fprintln(stdout, p)
		failed = failed || !p.Warning
	}
	if dir != "" {
		problems, bad := checkWhatsAppTemplates(filepath.Join(dir, whatsAppTemplatesFile), c.Catalog.Languages())
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		failed = failed || bad
	}
	if failed {
		return 1
	}
	fmt.Fprintf(stdout, "content ok: %d flows, %d languages, %d resource packs\n", len(c.Def.Flows), len(c.Catalog.Languages()), len(c.Packs))
	return 0
}

// sealerFor builds the sealer from the data keys. Without a key (only
// allowed when no real channel is on) it uses a fixed development key and
// says so.
func sealerFor(cfg *Config, log *slog.Logger) (*store.Sealer, error) {
	if cfg.DataKey == "" {
		log.Warn("no LIFELINE_DATA_KEY: using a development key; never use this with real people", "event", "dev_key")
		k := sha256.Sum256([]byte("lifeline development key: not secret"))
		return store.NewSealer(k[:], k[:])
	}
	key, err := store.ParseKey(cfg.DataKey)
	if err != nil {
		return nil, fmt.Errorf("LIFELINE_DATA_KEY: %w", err)
	}
	var older [][]byte
	for _, s := range bot.SplitList(cfg.OldDataKeys) {
		k, err := store.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("LIFELINE_OLD_DATA_KEYS: %w", err)
		}
		older = append(older, k)
	}
	idKey := key
	if len(older) > 0 {
		// Ids stay those made under the first key ever used.
		idKey = older[len(older)-1]
	}
	return store.NewSealer(idKey, key, older...)
}

// serve runs Lifeline until ctx ends (or, in the terminal demo, until the
// input ends).
// base is what every command that touches state needs: the store, the
// sealer and validated content.
type base struct {
	st     *store.Store
	sealer *store.Sealer
	cont   *content.Content
	cad    *checkin.Cadence
	loc    *time.Location
	close  func()
}

func openBase(ctx context.Context, cfg *Config, log *slog.Logger) (*base, error) {
	sealer, err := sealerFor(cfg, log)
	if err != nil {
		return nil, err
	}
	cont, err := content.Load(cfg.ContentDir, cfg.DefaultLanguage, cfg.ResourcePack)
	if err != nil {
		return nil, err
	}
	for _, p := range cont.Check(time.Now(), goMessages()...) {
		if !p.Warning {
			return nil, fmt.Errorf("content is not valid (run lifeline check): %s", p)
		}
		log.Warn("content warning", "event", "content_warning", "problem", p.String())
	}
	cad, err := checkin.LoadCadence(cfg.ContentDir)
	if err != nil {
		return nil, fmt.Errorf("check-in cadence: %w", err)
	}
	loc, err := time.LoadLocation(cfg.DefaultTimezone)
	if err != nil {
		return nil, err
	}
	rdb, closeRedis, err := store.Open(ctx, cfg.RedisURL, log)
	if err != nil {
		return nil, err
	}
	st := store.New(rdb, "ll", store.WithSealer(sealer))
	if err := migrate(ctx, st, log); err != nil {
		closeRedis()
		return nil, err
	}
	return &base{st: st, sealer: sealer, cont: cont, cad: cad, loc: loc, close: closeRedis}, nil
}

// migrate brings what an earlier Lifeline kept to this key layout before
// anything reads it, waiting for Redis when it does not answer yet.
func migrate(ctx context.Context, st *store.Store, log *slog.Logger) error {
	for {
		n, err := st.Migrate(ctx)
		if err == nil {
			if n > 0 {
				log.Info("moved what an earlier version kept to the sharded key layout", "event", "store_migrated", "moved", n)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		log.Warn("cannot check the key layout yet; trying again", "event", "store_migrate_wait", "error", err)
		bot.Sleep(ctx, time.Second)
	}
}

// tool runs a command that works on the store without serving: stats,
// broadcast, jobs.
func tool(ctx context.Context, cfg *Config, log *slog.Logger, stderr io.Writer, f func(b *base, rt *runner.Runtime) int) int {
	b, err := openBase(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "lifeline:", err)
		return 1
	}
	defer b.close()
	rt := runner.New(runner.Config{Store: b.st, Content: b.cont, Log: log})
	return f(b, rt)
}

func serve(ctx context.Context, cfg *Config, getenv func(string) string, log *slog.Logger, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b, err := openBase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer b.close()
	st, sealer, cont := b.st, b.sealer, b.cont

	mux := http.NewServeMux()
	var channels []bot.Channel
	var tg *telegram.Adapter
	if cfg.TelegramEnabled() {
		tg, err = telegram.New(telegram.Config{
			Token: cfg.TelegramToken, APIURL: cfg.TelegramAPIURL,
			WebhookURL: cfg.TelegramWebhookURL, WebhookSecret: cfg.TelegramWebhookSecret,
			GlobalRate: cfg.TelegramMPS,
		}, log)
		if err != nil {
			return err
		}
		tg.Register(mux)
		channels = append(channels, tg)
	}
	var text *sms.Adapter
	if cfg.SMSEnabled() {
		text, err = sms.New(sms.Config{
			AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken, From: cfg.TwilioFrom,
			MessagingServiceSID: cfg.TwilioMessagingServiceSID, APIURL: cfg.TwilioAPIURL,
			PublicURL: cfg.PublicURL, MPS: cfg.TwilioMPS,
		}, log)
		if err != nil {
			return err
		}
		text.Register(mux)
		channels = append(channels, text)
	}
	var wa *sms.Adapter
	if cfg.WhatsAppEnabled() {
		wa, err = newWhatsApp(cfg, log)
		if err != nil {
			return err
		}
		wa.Register(mux)
		channels = append(channels, wa)
	}
	var term *console.Adapter
	if len(channels) == 0 {
		term = console.New(stdin, stdout)
		channels = append(channels, term)
		log.Info("no channel credentials: chatting in this terminal", "event", "console_mode")
	}
	// Case conversations for the coach workspace, relayed like any channel.
	work := workspace.New(st, sealer, nil)
	channels = append(channels, work)
	met := metrics.New(st, channelNames(channels))
	id, err := newIdentity(ctx, st, cfg.Consumer, getenv, log)
	if err != nil {
		return err
	}
	warm := cfg.WarmTurns
	if warm == 0 {
		warm = -1 // none
	}
	rt := runner.New(runner.Config{Store: st, Content: cont, Channels: channels, Log: log, Consumer: id.name,
		Actions: broadcast.Actions(st, nil, log), Warm: warm,
		Hooks: runner.Hooks{Inbound: met.Inbound, Outbound: met.Outbound, Handled: met.Turn, Warm: met.Warm}})
	rt.OnAction(sms.HelpAction, sms.HelpReply(rt))
	if term != nil {
		term.Settle = rt.Settle
	}
	mux.Handle("GET /metrics", met.Handler())
	if tg != nil {
		tg.OnWait = func(d time.Duration) { met.Wait("telegram", d) }
		// Blocking the bot marks the person unreachable until they unblock
		// it; recorded before the update is acknowledged, once per update.
		tg.OnMember = func(ctx context.Context, address string, update int64, reachable bool) error {
			_, err := st.MarkReachable(ctx, rt.PersonID(tg.Name(), address), update, reachable)
			return err
		}
	}
	for _, a := range []*sms.Adapter{text, wa} {
		if a == nil {
			continue
		}
		a.OnWait = func(d time.Duration) { met.Wait(a.Name(), d) }
		a.OnSkip = func(string) { met.Outbound(a.Name(), "no_template") }
		a.OnStatus = func(ctx context.Context, address string, unreachable, optedOut bool) {
			fields := map[string]string{"unreachable": "1"}
			if optedOut {
				fields = map[string]string{"stopped": "1", "optout": "carrier"}
			}
			if err := st.SetProfile(ctx, rt.PersonID(a.Name(), address), fields); err != nil {
				log.Warn("delivery status not recorded", "event", a.Name()+"_status_failed", "error", err)
			}
		}
	}
	accounts := web.NewAccounts(st, sealer, nil)
	gate := bot.Gates{accounts}
	if cfg.StaffAPIToken != "" {
		log.Warn("STAFF_API_TOKEN is deprecated: make a token per account in the console (My account), so the audit log names who acted", "event", "shared_token_deprecated")
		gate = append(gate, bot.StaticToken(cfg.StaffAPIToken))
	}
	bc := broadcast.New(broadcast.Config{Runtime: rt, Consumer: id.name, Quiet: cfg.QuietHours, DefaultTZ: b.loc, Log: log})
	bc.Register(mux, gate)
	sched := checkin.New(checkin.Config{Runtime: rt, Quiet: cfg.QuietHours, DefaultTZ: b.loc, Cadence: b.cad, Log: log,
		Escalate: func(ctx context.Context, person, reason, priority string) {
			if err := rt.Escalate(ctx, person, reason, priority, ""); err != nil {
				log.Error("escalation not recorded", "event", "escalation_failed", "person", person, "error", err)
			}
		}})
	rt.OnEffect(sched.Effect, flows.EffectSubscribe, flows.EffectUnsubscribe, flows.EffectStop, flows.EffectStart, flows.EffectDelete, flows.EffectRecord)
	rt.OnEffect(sched.CountAnswers, flows.EffectRecord)
	sched.Register(mux, gate)
	// The coach module always runs: coaches work in the console, and in
	// Telegram too when its coaches are configured.
	loc, _ := time.LoadLocation(cfg.DefaultTimezone)
	hours, err := coach.ParseHours(cfg.CoachHours, loc)
	if err != nil {
		return fmt.Errorf("COACH_HOURS: %w", err)
	}
	coachCfg := coach.Config{
		Runtime: rt, Consumer: id.name, Hours: hours, Log: log, SetCadence: sched.SetCadence, SetFollowUp: sched.SetFollowUp,
	}
	if tg != nil && (cfg.CoachChatID != 0 || len(cfg.CoachTelegramIDs) > 0) {
		coachCfg.Telegram, coachCfg.Group = tg, cfg.CoachChatID
		coachCfg.Coaches, coachCfg.Supervisors = cfg.CoachTelegramIDs, cfg.CoachSupervisorIDs
	} else {
		log.Info("no Telegram coaches configured (COACH_CHAT_ID, COACH_TELEGRAM_IDS): coaches work in the console", "event", "no_telegram_coaches")
	}
	coaches := coach.New(coachCfg)
	if coachCfg.Telegram != nil {
		tg.Group = coaches.Group
	}
	rt.OnEffect(coaches.Effect, flows.EffectStop, flows.EffectDelete)
	if err := startConsole(ctx, mux, cfg, b, accounts, bc, sched, coaches, log); err != nil {
		return err
	}
	if tg != nil {
		cmds, names, descs := telegramCommands(cont)
		if err := tg.Setup(ctx, cmds, names, descs); err != nil {
			log.Warn("telegram commands, name or description not set", "event", "telegram_setup_failed", "error", err)
		}
	}

	var ready atomic.Bool
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() || st.Ping(r.Context()) != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	receiver := coaches.Receiver(rt)
	// Webhooks may arrive as soon as the server listens: bind the channels
	// to the receiver first.
	if tg != nil {
		tg.Bind(receiver)
	}
	if text != nil {
		text.Bind(receiver)
	}
	if wa != nil {
		wa.Bind(receiver)
	}
	srv := newHTTPServer(cfg, perIPLimit(mux, cfg.WebhookIPRate, log))
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		if term == nil {
			return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
		}
		log.Warn("HTTP not started; the terminal chat runs without it", "event", "listen_failed", "error", err)
		ln = nil
	} else {
		ln = limitConns(ln, cfg.HTTPMaxConns, cfg.HTTPMaxConnsPerIP, log)
	}

	// Every component runs until ctx ends. The first to fail, or to stop
	// while the others run, stops them all: readiness goes false and serve
	// returns its error, so the platform restarts a whole process rather
	// than leaving half of one.
	var wg sync.WaitGroup
	var fatal error
	var fatalOnce sync.Once
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f()
			if ctx.Err() != nil {
				return // stopping: whatever it returned is expected
			}
			if err == nil {
				err = errors.New("stopped")
			}
			fatalOnce.Do(func() {
				fatal = fmt.Errorf("%s: %w", name, err)
				ready.Store(false)
				log.Error("a component failed; stopping", "event", "component_failed", "component", name, "error", err)
				cancel()
			})
		}()
	}
	if ln != nil {
		run("http", func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		log.Info("listening", "event", "listening", "addr", ln.Addr().String())
	}
	run("consumer lease", func() error { return id.keep(ctx, st) })
	run("runtime", func() error { return rt.Run(ctx) })
	run("check-ins", func() error { return sched.Run(ctx) })
	run("broadcasts", func() error { return bc.Run(ctx) })
	run("retention", func() error {
		return rt.RunRetention(ctx, runner.Retention{Days: cfg.RetentionDays, Quiet: cfg.QuietHours, DefaultTZ: b.loc})
	})
	run("coaches", func() error { return coaches.Run(ctx) })
	for _, ch := range channels {
		if ch == term {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ch.Run(ctx, receiver); err != nil && ctx.Err() == nil {
					log.Error("terminal chat failed", "event", "component_failed", "component", "terminal", "error", err)
				}
				cancel() // the terminal chat ended
			}()
			continue
		}
		run(ch.Name(), func() error { return ch.Run(ctx, receiver) })
	}
	ready.Store(true)
	<-ctx.Done()

	// Shut down in reverse order under a deadline: stop taking requests,
	// then let the runtime finish what it holds.
	ready.Store(false)
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutCtx.Done():
		// What is still held stays pending in Redis; another process (or
		// this one, restarted) claims it.
		log.Warn("stopping before every worker finished", "event", "shutdown_deadline")
		return fatal
	}
	return fatal
}

// telegramCommands builds the bot's command menu, name and description in
// every shipped language with a two-letter code; the default language is
// also Telegram's default.
func telegramCommands(c *content.Content) (map[string][]telegram.Command, map[string]string, map[string]string) {
	cmds := map[string][]telegram.Command{}
	names := map[string]string{}
	descs := map[string]string{}
	cat := c.Catalog
	for _, lang := range cat.Languages() {
		keys := []string{lang}
		if lang == cat.Default() {
			keys = append(keys, "")
		}
		var list []telegram.Command
		for _, it := range flows.Intents {
			text, _ := cat.Text(lang, "cmd."+string(it), nil)
			list = append(list, telegram.Command{Command: string(it), Description: text})
		}
		name, _ := cat.Text(lang, "bot.name", nil)
		desc, _ := cat.Text(lang, "bot.description", nil)
		for _, k := range keys {
			if len(k) != 0 && len(k) != 2 {
				continue
			}
			cmds[k], names[k], descs[k] = list, name, desc
		}
	}
	return cmds, names, descs
}

// audit prints the audit stream, oldest first.
func audit(ctx context.Context, st *store.Store, stdout, stderr io.Writer) int {
	after := ""
	n := 0
	for {
		entries, err := st.AuditLog(ctx, after, 500)
		if err != nil {
			fmt.Fprintln(stderr, "lifeline:", err)
			return 1
		}
		for _, e := range entries {
			fmt.Fprintf(stdout, "%s  %-28s  %-22s  %s\n", e.At.Format(time.RFC3339), e.Actor, e.Action, e.Target)
			after = e.ID
			n++
		}
		if len(entries) < 500 {
			break
		}
	}
	if n == 0 {
		fmt.Fprintln(stdout, "no audit entries")
	}
	return 0
}

// goMessages are the message ids Go code outside the flows renders, so
// lifeline check covers them in every locale.
func goMessages() []string {
	return slices.Concat(broadcast.MessageIDs, coach.MessageIDs, coach.FollowUpMessageIDs, sms.MessageIDs)
}

func channelNames(chs []bot.Channel) []string {
	var out []string
	for _, c := range chs {
		out = append(out, c.Name())
	}
	return out
}

// whatsAppTemplatesFile, in CONTENT_DIR, lists the WhatsApp channel's
// templates (sms.ParseTemplates).
const whatsAppTemplatesFile = "whatsapp_templates.yaml"

// whatsAppPurposes are the purposes Lifeline gives the messages it starts
// (bot.Outbound.Purpose): the flows it triggers, the broadcast kinds, a
// coach's message and the notice before erasure.
var whatsAppPurposes = []string{checkin.FlowCheckin, checkin.FlowReminder, coach.FeedbackFlow,
	broadcast.KindBroadcast, broadcast.KindReminder, broadcast.KindJob, broadcast.KindDigest, "coach", "retention"}

// checkWhatsAppTemplates reads the templates file at path, if there is
// one: an unreadable file (a bad SID, variable or choices template among
// them) is an error, a purpose Lifeline never uses or a language the
// content lacks a warning. Choices templates (choices_1 to choices_10,
// language any) are checked by sms.ParseTemplates.
func checkWhatsAppTemplates(path string, langs []string) (problems []string, failed bool) {
	tpl, err := sms.LoadTemplates(path)
	if err != nil {
		return []string{err.Error()}, true
	}
	var choices []string
	for n := 1; n <= sms.MaxChoices; n++ {
		choices = append(choices, sms.ChoicesPurpose(n))
	}
	for _, purpose := range slices.Sorted(maps.Keys(tpl)) {
		if slices.Contains(choices, purpose) {
			continue
		}
		if !slices.Contains(whatsAppPurposes, purpose) {
			problems = append(problems, fmt.Sprintf("%s: %s: warning: not a purpose Lifeline uses (%s, or choices_1 to choices_%d)", whatsAppTemplatesFile, purpose, strings.Join(whatsAppPurposes, ", "), sms.MaxChoices))
		}
		for _, lang := range slices.Sorted(maps.Keys(tpl[purpose])) {
			if !slices.Contains(langs, lang) {
				problems = append(problems, fmt.Sprintf("%s: %s/%s: warning: no such language in the content", whatsAppTemplatesFile, purpose, lang))
			}
		}
	}
	return problems, false
}

// newWhatsApp builds the WhatsApp channel: the Twilio adapter in its
// WhatsApp mode, with the templates of CONTENT_DIR/whatsapp_templates.yaml
// (none without it: then nothing Lifeline starts reaches a person silent
// for over 24 hours).
func newWhatsApp(cfg *Config, log *slog.Logger) (*sms.Adapter, error) {
	var tpl sms.Templates
	if cfg.ContentDir != "" {
		var err error
		if tpl, err = sms.LoadTemplates(filepath.Join(cfg.ContentDir, whatsAppTemplatesFile)); err != nil {
			return nil, fmt.Errorf("whatsapp templates: %w", err)
		}
	}
	if len(tpl) == 0 {
		log.Warn("no WhatsApp templates: messages Lifeline starts outside the 24-hour window will be skipped", "event", "whatsapp_no_templates")
	}
	return sms.New(sms.Config{
		AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken, From: cfg.TwilioWhatsAppFrom,
		APIURL: cfg.TwilioAPIURL, PublicURL: cfg.PublicURL, MPS: cfg.TwilioWhatsAppMPS, Templates: tpl,
	}, log)
}
