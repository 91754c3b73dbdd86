package coach_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/coach"
	"github.com/lifeline-org/lifeline/bot/runner"
	"github.com/lifeline-org/lifeline/bot/sms"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/bot/telegram"
	"github.com/lifeline-org/lifeline/bot/telegram/telegramtest"
	"github.com/lifeline-org/lifeline/store"
)

const (
	group      = int64(-1001)
	ana        = int64(11) // a coach
	ben        = int64(12) // another coach
	supervisor = int64(99)
	stranger   = int64(55) // in the group, not a coach
	survivor   = int64(777000111)
)

// world is one Lifeline process: runtime, Telegram and SMS channels, and
// the coach module, on a shared Redis and shared fake platforms.
type world struct {
	*bottest.Harness
	fake   *telegramtest.Server
	twilio *smstest.Server
	rt     *runner.Runtime
	m      *coach.Module
	st     *store.Store
}

type options struct {
	hours coach.Hours
	clock *bottest.Clock
	poll  bool // run the Telegram long-polling loop (one world at a time)
	// followUp serves /followup (followup_test.go).
	followUp func(ctx context.Context, person, reason string) (bool, error)
}

func newWorld(t *testing.T, st *store.Store, fake *telegramtest.Server, o options) *world {
	t.Helper()
	tg, err := telegram.New(telegram.Config{Token: "1:x", APIURL: fake.URL, GlobalRate: 1000, PerChatRate: 1000, GroupPerMinute: 60000, PollTimeout: time.Second}, bottest.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{fake: fake, twilio: smstest.NewServer(t)}
	text, err := sms.New(sms.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "tok", From: "+15005550006", APIURL: w.twilio.URL, MPS: 100}, bottest.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	if o.clock == nil {
		o.clock = bottest.NewClock(time.Now().UTC())
	}
	w.Harness = bottest.Start(t, bottest.WithStore(st), bottest.WithChannels(tg, text), bottest.Before(func(h *bottest.Harness) {
		w.rt, w.st = h.RT, h.Store
		w.m = coach.New(coach.Config{Runtime: h.RT, Telegram: tg, Group: group, Coaches: []int64{ana, ben}, Supervisors: []int64{supervisor},
			Hours: o.hours, Clock: o.clock.Now, Log: bottest.Quiet(), SetFollowUp: o.followUp})
		tg.Group = w.m.Group
		h.RT.OnEffect(w.m.Effect)
		h.Go(func(ctx context.Context) { _ = w.m.Run(ctx) })
		h.Go(func(ctx context.Context) { _ = text.Run(ctx, w.m.Receiver(h.RT)) })
		if o.poll {
			h.Go(func(ctx context.Context) { _ = tg.Run(ctx, w.m.Receiver(h.RT)) })
		}
	}))
	return w
}

var waitFor = bottest.WaitFor

func saidAll(fake *telegramtest.Server, chat int64) string {
	return strings.Join(fake.BotSaid(chat), "\n")
}

// expect waits until chat has a bot message containing want.
func expect(t *testing.T, fake *telegramtest.Server, chat int64, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%q in chat %d", want, chat), func() bool { return strings.Contains(saidAll(fake, chat), want) })
}

func count(fake *telegramtest.Server, chat int64, want string) int {
	n := 0
	for _, s := range fake.BotSaid(chat) {
		if strings.Contains(s, want) {
			n++
		}
	}
	return n
}

// onboard takes the Telegram survivor through language and consent.
func onboard(t *testing.T, fake *telegramtest.Server) {
	fake.Type(survivor, "/start")
	expect(t, fake, survivor, "Choose your language")
	fake.Press(t, survivor, "English")
	expect(t, fake, survivor, "Privacy")
	fake.Press(t, survivor, "I agree")
	expect(t, fake, survivor, "What would you like to do?")
}

// texter is a person texting Lifeline from a phone, on SMS.
type texter struct {
	w     *world
	phone string
	n     int
}

// texter returns the person texting from phone.
func (w *world) texter(phone string) *texter { return &texter{w: w, phone: phone} }

// text hands body to the runtime as a text from the person.
func (p *texter) text(body string) {
	p.w.T.Helper()
	p.n++
	p.w.Accept(bot.Inbound{Channel: "sms", Address: p.phone, MessageID: fmt.Sprint("SM", p.n), Text: body})
}

// expect waits until a text Lifeline sent holds want.
func (p *texter) expect(want string) {
	p.w.T.Helper()
	waitFor(p.w.T, "SMS "+want, func() bool { return strings.Contains(strings.Join(p.w.twilio.Bodies(), "\n"), want) })
}

// welcome takes the person through the language menu and the privacy
// notice to the main menu.
func (p *texter) welcome() {
	p.w.T.Helper()
	p.text("hi")
	p.expect("English")
	p.text("1")
	p.expect("Privacy")
	p.text("1")
	p.expect("What would you like to do?")
}

// askForCoach has the survivor ask for a coach, and returns the alias of
// the case announced in the group.
func askForCoach(t *testing.T, fake *telegramtest.Server) string {
	t.Helper()
	fake.Type(survivor, "coach")
	expect(t, fake, group, "New case")
	return caseAlias(t, fake)
}

// claimedBy has the survivor ask for a coach and coach claim the case, and
// returns its alias once the coach is told.
func claimedBy(t *testing.T, fake *telegramtest.Server, coach int64) string {
	t.Helper()
	alias := askForCoach(t, fake)
	pressClaim(t, fake, group, coach, alias)
	expect(t, fake, coach, "You have case "+alias)
	return alias
}

// pressClaim presses the Claim button of case alias as user from, in chat.
func pressClaim(t *testing.T, fake *telegramtest.Server, chat, from int64, alias string) int64 {
	t.Helper()
	// The button may come a moment after the card's text: ButtonUpdate waits.
	return fake.Queue(fake.ButtonUpdate(t, chat, from, "claim:"+alias))[0]
}

// drained waits until Telegram update id was taken and the coach module
// has handled everything recorded.
func (w *world) drained(id int64) {
	w.T.Helper()
	waitFor(w.T, "the update handled", func() bool {
		n, err := w.st.Redis().XLen(context.Background(), w.st.Key("coach", "in")).Result()
		return w.fake.Confirmed() > id && err == nil && n == 0
	})
}

// caseAlias reads the alias of the newest case announced in the group.
func caseAlias(t *testing.T, fake *telegramtest.Server) string {
	t.Helper()
	msgs := fake.BotSaid(group)
	for i := len(msgs) - 1; i >= 0; i-- {
		if _, rest, ok := strings.Cut(msgs[i], "case "); ok {
			alias, _, _ := strings.Cut(rest, ":")
			return alias
		}
	}
	t.Fatal("no case announced")
	return ""
}

// leaks fails when a coach-facing or survivor-facing text holds an identity.
func leaks(t *testing.T, texts string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(texts, s) {
			t.Errorf("identity leak: %q appears in\n%s", s, texts)
		}
	}
}

func TestTelegramSurvivorAndTelegramCoach(t *testing.T) {
	fake := telegramtest.NewServer(t)
	w := newWorld(t, bottest.NewStore(t), fake, options{poll: true})
	onboard(t, fake)
	fake.Type(ana, "/name Ana")
	expect(t, fake, ana, "People will see you as Ana")

	alias := askForCoach(t, fake)

	id := pressClaim(t, fake, group, stranger, alias)
	w.drained(id)
	if c, _ := w.m.Case(context.Background(), alias); c == nil || c.State != coach.StateOpen {
		t.Fatalf("a non-coach's press changed the case: %+v", c)
	}

	pressClaim(t, fake, group, ana, alias)
	expect(t, fake, survivor, "Ana, a coach, is with you now")
	expect(t, fake, group, "is with Ana")
	expect(t, fake, ana, "You have case "+alias)

	fake.Type(survivor, "My boss keeps my papers")
	expect(t, fake, ana, alias+": My boss keeps my papers")
	fake.Type(ana, "I am here. Are you safe now?")
	expect(t, fake, survivor, "Ana: I am here. Are you safe now?")

	fake.Type(ana, "/close")
	expect(t, fake, survivor, "finished this talk")
	expect(t, fake, survivor, "Did talking with the coach help you?")
	c, err := w.m.Case(context.Background(), alias)
	if err != nil || c.State != coach.StateClosed || c.Person != "" || c.Reason == "" {
		t.Fatalf("closed case %+v, %v: want closed, reason kept, person gone", c, err)
	}
	log, err := w.st.AuditLog(context.Background(), "", 100)
	if err != nil || len(log) != 2 || log[0].Action != "case.claim" || log[1].Action != "case.close" || log[1].Target != alias || !strings.HasPrefix(log[0].Actor, "coach:") {
		t.Fatalf("audit %+v, %v: want claim then close by a pseudonymous coach", log, err)
	}
	leaks(t, log[0].Actor+log[1].Actor, ":"+fmt.Sprint(ana))
	// After the case the bot answers again.
	fake.Type(survivor, "menu")
	expect(t, fake, survivor, "What would you like to do?")

	leaks(t, saidAll(fake, group)+saidAll(fake, ana), fmt.Sprint(survivor), "@")
	leaks(t, saidAll(fake, survivor), "coach:"+fmt.Sprint(ana))
}

func TestSMSSurvivorAndTelegramCoach(t *testing.T) {
	fake := telegramtest.NewServer(t)
	w := newWorld(t, bottest.NewStore(t), fake, options{poll: true})
	const phone = "+447700900555"
	p := w.texter(phone)
	text, expectSMS := p.text, p.expect
	p.welcome()
	text("coach")
	expect(t, fake, group, "New case")
	alias := caseAlias(t, fake)
	pressClaim(t, fake, group, ben, alias)
	expectSMS("a coach, is with you now")
	text("Thank you for answering")
	expect(t, fake, ben, alias+": Thank you for answering")
	fake.Type(ben, "You are welcome")
	expectSMS(": You are welcome")
	leaks(t, saidAll(fake, group)+saidAll(fake, ben), phone, "447700900555")
	leaks(t, strings.Join(w.twilio.Bodies(), "\n"), fmt.Sprint(ben))
}

func TestTwoCoachesClaimAtOnce(t *testing.T) {
	fake := telegramtest.NewServer(t)
	w := newWorld(t, bottest.NewStore(t), fake, options{poll: true})
	onboard(t, fake)
	alias := askForCoach(t, fake)
	pressClaim(t, fake, group, ana, alias)
	pressClaim(t, fake, group, ben, alias)
	waitFor(t, "both presses handled", func() bool {
		return count(fake, ana, "You have case "+alias)+count(fake, ben, "You have case "+alias)+
			count(fake, ana, "is already with")+count(fake, ben, "is already with") >= 2
	})
	won := count(fake, ana, "You have case "+alias) + count(fake, ben, "You have case "+alias)
	lost := count(fake, ana, "is already with") + count(fake, ben, "is already with")
	if won != 1 || lost != 1 {
		t.Fatalf("won %d, lost %d: want exactly one winner", won, lost)
	}
	// The person is told through the outbox, after the coaches: wait for
	// it, then for any second telling that would follow.
	waitFor(t, "the survivor told", func() bool { return count(fake, survivor, "is with you now") >= 1 })
	time.Sleep(500 * time.Millisecond)
	if n := count(fake, survivor, "is with you now"); n != 1 {
		t.Fatalf("survivor told %d times", n)
	}
	_ = w
}

func TestRelaySurvivesARestart(t *testing.T) {
	fake := telegramtest.NewServer(t)
	st := bottest.NewStore(t)
	w := newWorld(t, st, fake, options{poll: true})
	onboard(t, fake)
	alias := askForCoach(t, fake)
	pressClaim(t, fake, group, ana, alias)
	expect(t, fake, survivor, "is with you now")
	w.Stop()

	newWorld(t, st, fake, options{poll: true})
	fake.Type(survivor, "Are you still there?")
	expect(t, fake, ana, alias+": Are you still there?")
	fake.Type(ana, "Yes")
	expect(t, fake, survivor, ": Yes")
}

// TestUrgentCaseRaisedOnceWithTwoProcesses: an unclaimed urgent case is
// announced again and raised to the supervisor on time, once, although two
// processes fire timers.
func TestUrgentCaseRaisedOnceWithTwoProcesses(t *testing.T) {
	fake := telegramtest.NewServer(t)
	st := bottest.NewStore(t)
	clk := bottest.NewClock(time.Now().UTC())
	a := newWorld(t, st, fake, options{poll: true, clock: clk})
	b := newWorld(t, st, fake, options{clock: clk})
	onboard(t, fake)
	fake.Type(survivor, "they took my passport, I am in danger")
	expect(t, fake, survivor, "If you are in danger now")
	expect(t, fake, group, "urgent")
	if got := count(fake, supervisor, "Nobody has claimed"); got != 0 {
		t.Fatalf("raised before time: %d", got)
	}
	clk.Add(4 * time.Minute)
	fire(t, a, b, clk.Now())
	if got := count(fake, supervisor, "Nobody has claimed"); got != 0 {
		t.Fatalf("raised after 4 minutes: %d", got)
	}
	clk.Add(2 * time.Minute)
	fire(t, a, b, clk.Now())
	expect(t, fake, supervisor, "Nobody has claimed")
	clk.Add(time.Hour)
	fire(t, a, b, clk.Now())
	time.Sleep(200 * time.Millisecond) // let any duplicate arrive before counting
	if got := count(fake, supervisor, "Nobody has claimed"); got != 1 {
		t.Fatalf("supervisor told %d times, want once", got)
	}
	if got := count(fake, group, "Still waiting"); got != 1 {
		t.Fatalf("re-announced %d times, want once", got)
	}
}

// fire runs both processes' timers at the same moment.
func fire(t *testing.T, a, b *world, now time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	for _, w := range []*world{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.m.FireTimers(context.Background(), now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestOutOfHours(t *testing.T) {
	fake := telegramtest.NewServer(t)
	// Coaches work 09:00-17:00 on Mondays; it is Saturday noon.
	sat := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	hours, err := coach.ParseHours("Mon 09:00-17:00", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	newWorld(t, bottest.NewStore(t), fake, options{poll: true, hours: hours, clock: bottest.NewClock(sat)})
	onboard(t, fake)
	fake.Type(survivor, "coach")
	expect(t, fake, survivor, "Our coaches are away now. One will answer in about 45 hours.")
	expect(t, fake, survivor, "112")
}

func TestHours(t *testing.T) {
	h, err := coach.ParseHours("Mon-Fri 09:00-17:00", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	fri := time.Date(2026, 11, 27, 16, 59, 0, 0, time.UTC)
	if !h.Open(fri) || h.Open(fri.Add(time.Minute)) {
		t.Error("Friday 16:59 open, 17:00 closed")
	}
	if got := h.NextOpen(fri.Add(time.Hour)); !got.Equal(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("next open after Friday evening: %v", got)
	}
	if _, err := coach.ParseHours("Mon-Fri late", time.UTC); err == nil {
		t.Error("bad hours accepted")
	}
	always, _ := coach.ParseHours("always", time.UTC)
	if !always.Open(fri.Add(10 * time.Hour)) {
		t.Error("always must be open")
	}
}
