package runner

import (
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/flows/crisis"
	"github.com/lifeline-org/lifeline/store"
)

// Decider decides a turn: given what the person sent and what is kept
// about them, what to answer, what to remember and whom to alert. It does
// no I/O (no Redis, no decryption, no clock but the input's), so every
// rule — the safe word, crisis words, the flood limit, a coach's relay,
// the engine — is testable as a transcript of Decide alone.
type Decider struct {
	content *content.Content
	actions map[string]bot.Action
	// hash is the keyed hash a safe word is kept as (the sealer's Hash).
	hash func(kind, value string) string
	log  *slog.Logger
}

// NewDecider builds a Decider. hash keys the safe word (store.Sealer.Hash).
func NewDecider(c *content.Content, actions map[string]bot.Action, hash func(kind, value string) string, log *slog.Logger) *Decider {
	if log == nil {
		log = slog.Default()
	}
	return &Decider{content: c, actions: maps.Clone(actions), hash: hash, log: log}
}

// TurnInput is everything a turn decides from.
type TurnInput struct {
	Person  string
	Profile map[string]string // as kept before the turn
	Session flows.Session
	Inbox   []bot.Inbound // what the person sent, oldest first
	Now     time.Time
	// CanClear says whether the person's channel can delete messages.
	CanClear bool
	// OwnWords are the channel's own message ids for some of the engine's
	// (bot.OwnWords), nil for none.
	OwnWords map[string]string
	// Kept opens what the person's coach keeps in the profile (the plan and
	// notes), for MY DATA only: nothing is decrypted on other turns.
	Kept func() (*bot.Plan, []bot.Note)
}

// TurnResult is what a turn decided; the runner seals and commits it.
type TurnResult struct {
	Session flows.Session
	// Profile holds the fields to change ("" deletes one); nil with Wipe.
	Profile map[string]string
	Replies []bot.Outbound // to the person
	Relayed []bot.Outbound // to the coach who holds their case
	// RelayedText are the relayed words as the person wrote them, for the
	// case's conversation in the coach workspace.
	RelayedText []string
	Cases       []Case
	// Effects are every effect of the turn, for the effect handlers.
	Effects []flows.Effect
	Clear   bool // delete what the channel can of the chat
	Wipe    bool // erase everything about the person
	// Alarms are the crisis phrases found, for the log.
	Alarms []crisis.Hit
}

// Decide applies a batch of inbox messages to the session. Safety comes
// first for each message, before the flood limit and whatever else a turn
// does, relay or not: the safe word, then words of danger.
func (d *Decider) Decide(in TurnInput) TurnResult {
	def := d.content.Def
	sess := in.Session
	res := TurnResult{Profile: map[string]string{}}
	var said []string // what the person wrote this turn, for a case excerpt
	crisisTold := false
	// escalate adds an escalation once per reason a turn: a person who
	// writes three messages of danger at once gets one case.
	escalated := map[string]bool{}
	escalate := func(e flows.Effect) {
		if !escalated[e.Reason] {
			escalated[e.Reason] = true
			res.Effects = append(res.Effects, e)
		}
	}
	lang := func() string { return sessLang(&sess, d.content) }
	for _, m := range in.Inbox {
		relaying := in.Profile[bot.RelayAlias] != "" && m.Flow == ""
		if m.Text != "" && in.Profile["safeword"] != "" && d.hash("safeword", flows.Fold(m.Text)) == in.Profile["safeword"] {
			// The safe word: answer with harmless small talk, and quietly
			// ask a coach to act. Nothing in the chat shows it, and the
			// word itself is kept nowhere (not in the case excerpt).
			escalate(flows.Effect{Kind: flows.EffectEscalate, Reason: "safe_word", Priority: flows.PriorityUrgent})
			if flooded(in.Now, in.Profile, res.Profile) && field(in.Profile, res.Profile, floodTold) != "" {
				continue
			}
			res.Replies = append(res.Replies, d.render(lang(), []flows.Output{{Msg: smallTalk(m.At)}})...)
			continue
		}
		if m.Text != "" && m.Flow == "" {
			if hit, ok := d.content.Crisis.Match(personLang(&sess, d.content), m.Text); ok {
				said = append(said, m.Text)
				res.Alarms = append(res.Alarms, hit)
				escalate(flows.Effect{Kind: flows.EffectEscalate, Reason: "crisis", Priority: flows.PriorityUrgent})
				flooded(in.Now, in.Profile, res.Profile) // counts, but never silences it
				if relaying {
					// The coach reads the words as they are; the case is
					// raised so that someone acts if the coach does not.
					d.relay(&res, in.Profile[bot.RelayAlias], m.Text)
					continue
				}
				// The crisis reply stands alone: the words are not also
				// an answer to the flow. A turn sends it once, however
				// many messages of danger it holds.
				if !crisisTold {
					res.Replies = append(res.Replies, d.render(lang(), []flows.Output{{Msg: "runtime.crisis"}})...)
					crisisTold = true
				}
				continue
			}
		}
		if m.Flow == "" && flooded(in.Now, in.Profile, res.Profile) {
			if field(in.Profile, res.Profile, floodTold) == "" {
				res.Profile[floodTold] = "1"
				res.Replies = append(res.Replies, d.render(lang(), []flows.Output{{Msg: "runtime.slow_down"}})...)
			}
			continue
		}
		if m.Text != "" {
			said = append(said, m.Text)
		}
		if m.NotText {
			if relaying {
				d.relay(&res, in.Profile[bot.RelayAlias], d.Render(d.content.Catalog.Default(), "coach.not_text", nil))
				continue
			}
			res.Replies = append(res.Replies, d.render(lang(), []flows.Output{{Msg: "runtime.text_only"}})...)
			continue
		}
		if name, arg, ok := action(m.Choice); ok {
			if h := d.actions[name]; h != nil {
				outs, effs := h(in.Person, in.Profile, arg)
				res.Effects = append(res.Effects, effs...)
				res.Replies = append(res.Replies, d.render(lang(), outs)...)
				continue
			}
		}
		var input flows.Input
		switch {
		case m.Flow != "":
			input = flows.Input{Flow: m.Flow}
		case m.Choice != "" || m.Prompt != 0:
			input = flows.Input{Choice: m.Choice, Prompt: m.Prompt}
		default:
			input = flows.Resolve(def, &sess, m.Text, d.content.Lexicon)
		}
		if relaying && m.Text != "" && !keepsWorkingInRelay(input.Intent) {
			// A coach has this person's case: the bot steps aside and
			// passes the words on.
			d.relay(&res, in.Profile[bot.RelayAlias], m.Text)
			continue
		}
		next, outs, effs := flows.Step(def, sess, input, m.At)
		look := lookOf(m, sess.Flow, next.Flow, field(in.Profile, res.Profile, bot.SoundField))
		if m.Flow != "" {
			// Lifeline started this flow: its purpose is the flow's id.
			look.purpose, look.lang, look.last = m.Flow, lang(), lastWrote(in.Profile)
		}
		sess = next
		for _, e := range effs {
			outs = d.inTurn(in, &res, &sess, e, outs)
			res.Effects = append(res.Effects, e)
		}
		for i, o := range outs {
			if id := in.OwnWords[o.Msg]; id != "" {
				outs[i].Msg = id
			}
		}
		res.Replies = append(res.Replies, look.apply(d.render(lang(), outs))...)
		if res.Wipe {
			res.Profile = nil
			break
		}
	}
	res.Session = sess
	if !res.Wipe {
		for _, e := range res.Effects {
			if e.Kind == flows.EffectEscalate {
				res.Cases = append(res.Cases, Case{
					Person: in.Person, Reason: e.Reason, Priority: e.Priority, Value: e.Value,
					Lang: lang(), Channel: in.Profile["ch"], At: in.Now,
					Excerpt: said[max(0, len(said)-maxExcerpt):],
				})
			}
		}
	}
	return res
}

// Render renders a message in lang with the resource pack's data and data.
func (d *Decider) Render(lang, msg string, data map[string]string) string {
	return d.render(lang, []flows.Output{{Msg: msg, Data: data}})[0].Text
}

// turn opens the person's inbox, lets the Decider decide, and seals what
// it decided for the commit.
func (r *Runtime) turn(t *store.Turn) (store.Commit, []flows.Effect, []crisis.Hit, error) {
	sess, err := flows.ReadSession(t.Person, t.Session)
	if err != nil {
		return store.Commit{}, nil, nil, err
	}
	in := TurnInput{Person: t.Person, Profile: t.Profile, Session: sess, Now: r.now()}
	_, in.CanClear = r.channels[t.Profile["ch"]].(bot.Clearer)
	if w, ok := r.channels[t.Profile["ch"]].(bot.OwnWords); ok {
		in.OwnWords = w.OwnWords()
	}
	in.Kept = func() (*bot.Plan, []bot.Note) { return r.kept(t.Profile) }
	for i, raw := range t.Inbox {
		if i < len(t.Values) {
			if m, ok := t.Values[i].(bot.Inbound); ok {
				in.Inbox = append(in.Inbox, m)
				continue
			}
		}
		var m bot.Inbound
		if err := r.sealer.OpenJSON(raw, &m); err != nil {
			r.log.Error("inbound message unreadable; dropped", "event", "inbound_unreadable", "person", t.Person, "error", err)
			continue
		}
		in.Inbox = append(in.Inbox, m)
	}
	res := r.dec.Decide(in)
	kept, err := flows.WriteSession(t.Person, res.Session)
	if err != nil {
		return store.Commit{}, nil, nil, err
	}
	c := store.Commit{Handled: len(t.Inbox), Session: kept, Profile: res.Profile, Wipe: res.Wipe}
	for _, cs := range res.Cases {
		c.Cases = append(c.Cases, r.sealCase(cs))
	}
	if len(res.Relayed) > 0 {
		var words []bot.Outbound
		for _, text := range res.RelayedText {
			words = append(words, bot.Outbound{Text: text})
		}
		if t.Profile[bot.RelayChannel] == bot.WorkspaceChannel {
			// A coach in the console: the words go to the case's
			// conversation, which is where the coach reads them.
			if d, ok := r.relayDelivery(t, words); ok {
				c.Deliveries = append(c.Deliveries, r.queued(d))
			}
		} else {
			if d, ok := r.relayDelivery(t, res.Relayed); ok {
				c.Deliveries = append(c.Deliveries, r.queued(d))
			}
			if r.channels[bot.WorkspaceChannel] != nil {
				// The conversation is kept for the workspace too.
				d := bot.Delivery{ID: token(), Person: t.Person, Channel: bot.WorkspaceChannel, Address: t.Profile[bot.RelayAlias], Msgs: words}
				c.Deliveries = append(c.Deliveries, r.queued(d))
			}
		}
	}
	if len(res.Replies) > 0 || res.Clear {
		addr, err := r.sealer.Open([]byte(t.Profile["addr"]))
		if err != nil {
			r.log.Error("address unreadable; replies dropped", "event", "address_unreadable", "person", t.Person, "error", err)
			return c, res.Effects, res.Alarms, nil
		}
		d := bot.Delivery{ID: token(), Person: t.Person, Channel: t.Profile["ch"], Address: string(addr), Msgs: res.Replies, Clear: res.Clear, Forget: res.Wipe}
		c.Deliveries = append(c.Deliveries, r.queued(d))
	}
	return c, res.Effects, res.Alarms, nil
}

// kept opens the plan and notes a coach keeps in the profile; what does
// not open is left out (and logged).
func (r *Runtime) kept(profile map[string]string) (*bot.Plan, []bot.Note) {
	var plan *bot.Plan
	var notes []bot.Note
	for k, v := range profile {
		if v == "" || (k != bot.FieldPlan && !strings.HasPrefix(k, bot.FieldNotePrefix)) {
			continue
		}
		plain, err := r.sealer.Open([]byte(v))
		if err != nil {
			r.log.Warn("coach record unreadable", "event", "kept_unreadable", "field", strings.SplitN(k, ".", 2)[0], "error", err)
			continue
		}
		if k == bot.FieldPlan {
			var p bot.Plan
			if json.Unmarshal(plain, &p) == nil {
				plan = &p
			}
			continue
		}
		var n bot.Note
		if json.Unmarshal(plain, &n) == nil {
			notes = append(notes, n)
		}
	}
	slices.SortFunc(notes, func(a, b bot.Note) int { return a.At.Compare(b.At) })
	return plan, notes
}

// FloodLimit is how many messages a person may send in FloodWindow before
// the runtime asks them, once, to slow down and sets the rest aside.
const (
	FloodLimit  = 30
	FloodWindow = time.Minute
)

// flooded counts one inbound message against the person's window (kept in
// the profile, saved with the turn) and reports whether it is over the
// limit.
func flooded(at time.Time, profile, updates map[string]string) bool {
	now := at.UnixMilli()
	start, _ := strconv.ParseInt(field(profile, updates, floodAt), 10, 64)
	n, _ := strconv.Atoi(field(profile, updates, floodN))
	if now-start > FloodWindow.Milliseconds() {
		start, n = now, 0
		updates[floodTold] = ""
	}
	n++
	updates[floodAt] = strconv.FormatInt(start, 10)
	updates[floodN] = strconv.Itoa(n)
	// Kept in the profile itself before they were transient.
	for _, old := range []string{"flood_at", "flood_n", "flood_told"} {
		if profile[old] != "" {
			updates[old] = ""
		}
	}
	return n > FloodLimit
}

// The flood limit's counters are transient profile fields: they matter for
// FloodWindow, and Redis forgets them store.TransientTTL after the last
// message, so a quiet person keeps none.
const (
	floodAt   = store.TransientPrefix + "flood_at"
	floodN    = store.TransientPrefix + "flood_n"
	floodTold = store.TransientPrefix + "flood_told"
)

// field reads a profile field as this turn has left it so far.
func field(profile, updates map[string]string, k string) string {
	if v, ok := updates[k]; ok {
		return v
	}
	return profile[k]
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// smallTalk picks a harmless line for the safe word's answer.
func smallTalk(at time.Time) string {
	return "smalltalk." + strconv.Itoa(1+int(at.Unix()%3))
}

// keepsWorkingInRelay lists the intents that still reach the engine while
// a coach relays: the person can always stop, erase or clear.
func keepsWorkingInRelay(it flows.Intent) bool {
	return it == flows.IntentStop || it == flows.IntentDelete || it == flows.IntentClear
}

// relay passes text to the coach: in Telegram under the case's alias,
// never the person's name or number, and as written to the case's
// conversation.
func (d *Decider) relay(res *TurnResult, alias, text string) {
	res.Relayed = append(res.Relayed, bot.Outbound{Text: d.Render(d.content.Catalog.Default(), "coach.relay_from", map[string]string{"alias": alias, "text": text})})
	res.RelayedText = append(res.RelayedText, text)
}

func action(choice string) (name, arg string, ok bool) {
	rest, ok := strings.CutPrefix(choice, "x:")
	if !ok {
		return "", "", false
	}
	name, arg, _ = strings.Cut(rest, ":")
	return name, arg, true
}

// personLang is the language the person chose, or "" before they chose
// one (crisis words are then listened for in every language).
func personLang(s *flows.Session, c *content.Content) string {
	if l := s.Lang(); c.Catalog.Has(l) {
		return l
	}
	return ""
}

func sessLang(s *flows.Session, c *content.Content) string {
	if l := s.Lang(); l != "" && c.Catalog.Has(l) {
		return l
	}
	return c.Catalog.Default()
}
