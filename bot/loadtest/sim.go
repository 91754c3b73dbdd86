package loadtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/bot/runner"
)

const (
	channelName  = "sim"
	maxOpts      = 10 // the language list has 8
	onboardSteps = 3
)

// view is what a person last saw offered: the prompt and its options.
type view struct {
	prompt int32
	n      uint8
	ids    [maxOpts]string // interned
}

// person is one simulated person's state in the process that drives them.
// Everything is allocated before the Go heap baseline and never grows.
type person struct {
	mu      sync.Mutex
	step    int32 // messages sent so far
	waiting bool  // a message is accepted and its reply not yet seen
	sentAt  int64 // unix ns the waiting message was due/accepted
	pm      int64 // platform message ids of this chat (telegram style)
	view    view
	// sends are the times of the last FloodLimit messages (a ring; head is
	// the oldest), so the person never sends more than the runtime's flood
	// limit allows; restUntil is when a resting person may send again.
	sends     [runner.FloodLimit]int64
	head      int
	restUntil int64
	// busy (open loop) is set while a message is queued or waiting.
	busy atomic.Bool
}

// staged is, in the process that sends a person's reply, the last options
// the reply offered so far.
type staged struct {
	mu sync.Mutex
	v  view
	// sent is when the channel last sent to the person (unix ns): the
	// reply's time, which its record in Redis may follow by up to
	// store.FinalMarkPatience.
	sent int64
}

// Phases of a run.
const (
	phaseOnboard int32 = iota
	phaseMeasure
	phaseDrain
)

// sim is the simulated platform and its people.
type sim struct {
	rt        *runner.Runtime
	style     string
	procs     int
	index     int
	closed    bool
	people    []person // every person, though only owned ones are driven
	stage     []staged // every person, for replies this process sends
	byID      map[string]int32
	owned     []int32
	tasks     chan task
	peers     *peers
	phase     atomic.Int32
	winStart  atomic.Int64 // unix ns
	winEnd    atomic.Int64 // unix ns; 0 while the window is open
	lat       histogram
	intern    sync.Map
	updateSeq atomic.Int64

	completed  atomic.Int64 // replies completed for owned people
	inWindow   atomic.Int64 // … of which completed inside the window
	onboarded  atomic.Int64 // owned people through onboarding
	waitingN   atomic.Int64 // owned people with a message waiting
	sent       atomic.Int64 // messages the channel sent
	noReply    atomic.Int64
	unexpected atomic.Int64
	acceptErrs atomic.Int64
	skipped    atomic.Int64
	rests      atomic.Int64 // a person had to wait for the flood limit
}

type task struct {
	idx int32
	due int64 // unix ns; 0 = now
}

func address(i int) string { return fmt.Sprintf("+999%08d", i) }

func indexOf(addr string) (int, bool) {
	if !strings.HasPrefix(addr, "+999") {
		return 0, false
	}
	n, err := strconv.Atoi(addr[4:])
	return n, err == nil
}

func newSim(ids func(channel, address string) string, people, procs, index int, style string, closed bool) *sim {
	s := &sim{
		style: style, procs: procs, index: index, closed: closed,
		people: make([]person, people), stage: make([]staged, people),
		byID: make(map[string]int32, people),
	}
	for i := range people {
		s.byID[ids(channelName, address(i))] = int32(i)
		if i%procs == index {
			s.owned = append(s.owned, int32(i))
		}
	}
	s.tasks = make(chan task, len(s.owned)+4096)
	return s
}

func (s *sim) owner(idx int) int { return idx % s.procs }

func (s *sim) internID(id string) string {
	if v, ok := s.intern.Load(id); ok {
		return v.(string)
	}
	v, _ := s.intern.LoadOrStore(strings.Clone(id), strings.Clone(id))
	return v.(string)
}

// Name, Run and Send make sim a bot.Channel that accepts every send at once.
func (s *sim) Name() string { return channelName }

func (s *sim) Run(ctx context.Context, _ bot.Receiver) error { <-ctx.Done(); return nil }

func (s *sim) Send(_ context.Context, addr string, m bot.Outbound) (int64, error) {
	s.sent.Add(1)
	idx, ok := indexOf(addr)
	if !ok || idx >= len(s.stage) {
		return 0, &bot.SendError{Unreachable: true, Err: fmt.Errorf("unknown address")}
	}
	st := &s.stage[idx]
	st.mu.Lock()
	st.sent = time.Now().UnixNano()
	if len(m.Options) > 0 {
		st.v.prompt = int32(m.Prompt)
		st.v.n = uint8(min(len(m.Options), maxOpts))
		for i := range int(st.v.n) {
			st.v.ids[i] = s.internID(m.Options[i].ID)
		}
	}
	st.mu.Unlock()
	if s.style == "telegram" {
		return s.updateSeq.Add(1), nil
	}
	return 0, nil
}

// delivered is called by the Redis hook when this process completed a
// delivery: it hands the reply to the person's process.
func (s *sim) delivered(personID string, at time.Time) {
	idx, ok := s.byID[personID]
	if !ok {
		return
	}
	st := &s.stage[idx]
	st.mu.Lock()
	v := st.v
	st.v = view{}
	if st.sent != 0 && st.sent <= at.UnixNano() {
		at = time.Unix(0, st.sent)
	}
	st.mu.Unlock()
	if o := s.owner(int(idx)); o != s.index {
		s.peers.notify(o, idx, at.UnixNano(), v)
		return
	}
	s.replied(idx, at.UnixNano(), v)
}

// replied records that person idx's reply was sent at (unix ns) offering v.
func (s *sim) replied(idx int32, at int64, v view) {
	p := &s.people[idx]
	p.mu.Lock()
	if !p.waiting {
		p.mu.Unlock()
		s.unexpected.Add(1)
		return
	}
	p.waiting = false
	sentAt := p.sentAt
	p.view = v
	step := p.step
	p.mu.Unlock()
	s.waitingN.Add(-1)
	s.completed.Add(1)
	ws, we := s.winStart.Load(), s.winEnd.Load()
	if ws != 0 && at >= ws && (we == 0 || at < we) {
		s.inWindow.Add(1)
	}
	if ws != 0 && sentAt >= ws && (we == 0 || sentAt < we) {
		s.lat.record(time.Duration(at - sentAt))
	}
	s.next(idx, step)
}

// next decides what person idx does after a reply (or a lost one).
func (s *sim) next(idx int32, step int32) {
	switch s.phase.Load() {
	case phaseOnboard:
		if step < onboardSteps {
			s.tasks <- task{idx: idx}
			return
		}
		s.onboarded.Add(1)
	case phaseMeasure:
		if s.closed {
			s.tasks <- task{idx: idx}
			return
		}
		s.people[idx].busy.Store(false)
	default:
		s.people[idx].busy.Store(false)
	}
}

// drive offers the tasks' messages until ctx ends; run several at once.
func (s *sim) drive(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(s.index)))
	for {
		var t task
		select {
		case <-ctx.Done():
			return
		case t = <-s.tasks:
		}
		if s.phase.Load() == phaseDrain {
			s.people[t.idx].busy.Store(false)
			continue
		}
		p := &s.people[t.idx]
		now := time.Now().UnixNano()
		p.mu.Lock()
		if p.waiting {
			p.mu.Unlock()
			continue
		}
		if until := p.floodUntil(now); until != 0 {
			// Closed loop: rest; the sweeper brings the person back.
			p.restUntil = until
			p.mu.Unlock()
			s.rests.Add(1)
			continue
		}
		in := s.compose(int(t.idx), p, rng)
		p.waiting = true
		p.sentAt = t.due
		if p.sentAt == 0 {
			p.sentAt = now
		}
		p.sends[p.head] = now
		p.head = (p.head + 1) % len(p.sends)
		p.step++
		p.mu.Unlock()
		s.waitingN.Add(1)
		if err := s.rt.Accept(ctx, in); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.acceptErrs.Add(1)
			s.lost(t.idx)
		}
	}
}

// lost gives up on person idx's waiting message (accept failed or no
// reply in time).
func (s *sim) lost(idx int32) {
	p := &s.people[idx]
	p.mu.Lock()
	if !p.waiting {
		p.mu.Unlock()
		return
	}
	p.waiting = false
	step := p.step
	p.mu.Unlock()
	s.waitingN.Add(-1)
	s.next(idx, step)
}

// floodMargin covers the time between a person sending and the runtime
// counting the message: the runtime counts FloodLimit messages in a fixed
// FloodWindow of its own clock, which a person respects by never sending
// more than that in any FloodWindow+floodMargin of theirs.
const floodMargin = 2 * time.Second

// floodUntil returns 0 if the person may send at now, or when they may.
func (p *person) floodUntil(now int64) int64 {
	oldest := p.sends[p.head]
	if oldest == 0 || now-oldest > int64(runner.FloodWindow+floodMargin) {
		return 0
	}
	return oldest + int64(runner.FloodWindow+floodMargin) + 1
}

// sweep gives up on replies older than timeout and brings rested people
// back, until ctx ends.
func (s *sim) sweep(ctx context.Context, timeout time.Duration) {
	_ = bot.Every(ctx, min(timeout/4, 100*time.Millisecond), func() error {
		now := time.Now().UnixNano()
		old := now - int64(timeout)
		for _, idx := range s.owned {
			p := &s.people[idx]
			p.mu.Lock()
			late := p.waiting && p.sentAt < old
			rested := p.restUntil != 0 && now >= p.restUntil
			if rested {
				p.restUntil = 0
			}
			p.mu.Unlock()
			if late {
				s.noReply.Add(1)
				s.lost(idx)
			}
			if rested {
				s.requeue(idx)
			}
		}
		return nil
	})
}

// requeue offers a rested person's next message (closed loop), or makes
// them available again (open loop).
func (s *sim) requeue(idx int32) {
	switch ph := s.phase.Load(); {
	case ph == phaseOnboard || ph == phaseMeasure && s.closed:
		s.tasks <- task{idx: idx}
	default:
		s.people[idx].busy.Store(false)
	}
}

// offer runs the open loop: rate messages a second, each to the next idle
// person, from begin until stop.
func (s *sim) offer(ctx context.Context, rate float64, begin, stop time.Time) {
	start := begin.UnixNano()
	interval := float64(time.Second) / rate
	rr := 0
	for i := 0; ; i++ {
		due := start + int64(float64(i)*interval)
		if d := time.Until(time.Unix(0, due)); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		if due >= stop.UnixNano() || ctx.Err() != nil {
			return
		}
		picked := int32(-1)
		now := time.Now().UnixNano()
		for range len(s.owned) {
			idx := s.owned[rr]
			rr = (rr + 1) % len(s.owned)
			p := &s.people[idx]
			if !p.busy.CompareAndSwap(false, true) {
				continue
			}
			p.mu.Lock()
			resting := p.floodUntil(now) != 0
			p.mu.Unlock()
			if resting {
				p.busy.Store(false)
				continue
			}
			picked = idx
			break
		}
		if picked < 0 {
			s.skipped.Add(1)
			continue
		}
		select {
		case s.tasks <- task{idx: picked, due: due}:
		case <-ctx.Done():
			return
		}
	}
}

// Texts people type that match no option or command.
var chatter = []string{"ok", "thank you", "what?", "I don't understand", "hello??", "when", "yes please", "is this free", "ok ok", "??"}

// compose makes person idx's next message from what they were last offered.
func (s *sim) compose(idx int, p *person, rng *rand.Rand) bot.Inbound {
	in := bot.Inbound{Channel: channelName, Address: address(idx), At: time.Now()}
	if s.style == "telegram" {
		p.pm++
		in.PlatformMsg = p.pm
		in.MessageID = strconv.FormatInt(int64(s.index+1)*1_000_000_000_000+s.updateSeq.Add(1), 10)
	} else {
		b := make([]byte, 16)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		in.MessageID = "SM" + hex.EncodeToString(b)
	}
	switch p.step {
	case 0:
		in.Text = "hi"
		return in
	case 1:
		s.choose(&in, p, "en", rng)
		return in
	case 2:
		s.choose(&in, p, "agree", rng)
		return in
	}
	switch r := rng.IntN(100); {
	case r < 8:
		in.Text = "menu"
	case r < 16:
		in.Text = chatter[rng.IntN(len(chatter))]
	case r < 18:
		in.NotText = true // a photo or a voice note
	default:
		var safe []string
		for _, id := range p.view.ids[:p.view.n] {
			if id != "coach" && id != "settings" {
				safe = append(safe, id)
			}
		}
		if len(safe) == 0 {
			in.Text = "menu"
			return in
		}
		s.choose(&in, p, safe[rng.IntN(len(safe))], rng)
	}
	return in
}

// choose picks option id of the person's view: a button press on Telegram
// (mostly), its number otherwise.
func (s *sim) choose(in *bot.Inbound, p *person, id string, rng *rand.Rand) {
	pos := -1
	for i, o := range p.view.ids[:p.view.n] {
		if o == id {
			pos = i
		}
	}
	if pos < 0 {
		in.Text = "1"
		return
	}
	if s.style == "telegram" && rng.IntN(100) < 85 {
		in.Choice, in.Prompt = id, int(p.view.prompt)
		return
	}
	in.Text = strconv.Itoa(pos + 1)
}
