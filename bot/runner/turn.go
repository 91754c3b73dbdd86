package runner

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-org/lifeline/bot"
	"github.com/lifeline-org/lifeline/flows"
	"github.com/lifeline-org/lifeline/flows/content"
	"github.com/lifeline-org/lifeline/store"
)

// turn applies a batch of inbox messages to the session and decides what to
// send. It does no I/O but decryption; the caller commits the result.
func (r *Runtime) turn(ctx context.Context, t *store.Turn) (store.Commit, []flows.Effect) {
	def := r.content.Def
	sess := t.Session
	c := store.Commit{Profile: map[string]string{}}
	var msgs []bot.Outbound
	var effects []flows.Effect
	var said []string // what the person wrote this turn, for a case excerpt
	var relayed []bot.Outbound
	clear := false
	crisisTold := false
	channel := t.Profile["ch"]
	// escalate adds an escalation once per reason a turn: a person who
	// writes three messages of danger at once gets one case.
	escalated := map[string]bool{}
	escalate := func(e flows.Effect) {
		if !escalated[e.Reason] {
			escalated[e.Reason] = true
			effects = append(effects, e)
		}
	}
	for _, raw := range t.Inbox {
		c.Handled++
		plain, err := r.sealer.Open(raw)
		var in bot.Inbound
		if err == nil {
			err = json.Unmarshal(plain, &in)
		}
		if err != nil {
			r.log.Error("inbound message unreadable; dropped", "event", "inbound_unreadable", "person", t.Person, "error", err)
			continue
		}
		relaying := t.Profile["relay"] != "" && in.Flow == ""
		// Safety first, before the flood limit and whatever else a turn
		// does, relay or not: the safe word, then words of danger.
		if in.Text != "" && t.Profile["safeword"] != "" && r.sealer.Hash("safeword", flows.Fold(in.Text)) == t.Profile["safeword"] {
			// The safe word: answer with harmless small talk, and quietly
			// ask a coach to act. Nothing in the chat shows it, and the
			// word itself is kept nowhere (not in the case excerpt).
			escalate(flows.Effect{Kind: flows.EffectEscalate, Reason: "safe_word", Priority: flows.PriorityUrgent})
			if r.flooded(t.Profile, c.Profile) && field(t.Profile, c.Profile, "flood_told") != "" {
				continue
			}
			msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: smallTalk(in.At)}})...)
			continue
		}
		if in.Text != "" && in.Flow == "" {
			if hit, ok := r.content.Crisis.Match(personLang(&sess, r.content), in.Text); ok {
				said = append(said, in.Text)
				escalate(flows.Effect{Kind: flows.EffectEscalate, Reason: "crisis", Priority: flows.PriorityUrgent})
				r.log.Info("crisis words", "event", "crisis_detected", "person", t.Person, "list", hit.Lang, "relay", relaying)
				flooded := r.flooded(t.Profile, c.Profile)
				if relaying {
					// The coach reads the words as they are; the case is
					// raised so that someone acts if the coach does not.
					relayed = append(relayed, r.relayLine(t.Profile["relay"], in.Text))
					continue
				}
				// The crisis reply stands alone: the words are not also
				// an answer to the flow. Under a flood it is sent once.
				if !crisisTold || !flooded {
					msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: "runtime.crisis"}})...)
					crisisTold = true
				}
				continue
			}
		}
		if in.Flow == "" && r.flooded(t.Profile, c.Profile) {
			if field(t.Profile, c.Profile, "flood_told") == "" {
				c.Profile["flood_told"] = "1"
				msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: "runtime.slow_down"}})...)
			}
			continue
		}
		if in.Text != "" {
			said = append(said, in.Text)
		}
		if in.NotText {
			if relaying {
				relayed = append(relayed, r.relayLine(t.Profile["relay"], r.Render(r.content.Catalog.Default(), "coach.not_text", nil)))
				continue
			}
			msgs = append(msgs, r.render(sessLang(&sess, r.content), []flows.Output{{Msg: "runtime.text_only"}})...)
			continue
		}
		if name, arg, ok := action(in.Choice); ok {
			if h := r.cfg.Actions[name]; h != nil {
				outs, effs := h(t.Person, t.Profile, arg)
				effects = append(effects, effs...)
				msgs = append(msgs, r.render(sessLang(&sess, r.content), outs)...)
				continue
			}
		}
		var input flows.Input
		if in.Flow != "" {
			input = flows.Input{Flow: in.Flow}
		} else if in.Choice != "" || in.Prompt != 0 {
			input = flows.Input{Choice: in.Choice, Prompt: in.Prompt}
		} else {
			input = flows.Resolve(def, &sess, in.Text, r.content.Lexicon)
		}
		if relaying && in.Text != "" && !keepsWorkingInRelay(input.Intent) {
			// A coach has this person's case: the bot steps aside and
			// passes the words on.
			relayed = append(relayed, r.relayLine(t.Profile["relay"], in.Text))
			continue
		}
		next, outs, effs := flows.Step(def, sess, input, in.At)
		look := lookOf(in, sess.Flow, next.Flow, field(t.Profile, c.Profile, bot.SoundField))
		sess = next
		wiped := false
		for _, e := range effs {
			switch e.Kind {
			case flows.EffectLanguage:
				c.Profile["lang"] = e.Value
			case flows.EffectStop:
				c.Profile["stopped"] = "1"
			case flows.EffectStart:
				c.Profile["stopped"] = ""
			case flows.EffectSubscribe:
				c.Profile["sub."+e.Topic] = "1"
			case flows.EffectUnsubscribe:
				c.Profile["sub."+e.Topic] = ""
			case flows.EffectDelete:
				wiped = true
			case flows.EffectClear:
				clear = true
				if _, ok := r.channels[channel].(bot.Clearer); !ok {
					outs = append(outs, flows.Output{Msg: flows.MsgClearNoop})
				}
			case flows.EffectMyData:
				merged := maps.Clone(t.Profile)
				maps.Copy(merged, c.Profile)
				outs = append([]flows.Output{{Msg: myDataMsg, Data: map[string]string{"summary": r.myData(sessLang(&sess, r.content), &sess, merged)}}}, outs...)
			case flows.EffectSafeWord:
				// Keep only a keyed hash of the word, never the word.
				if w := flows.Fold(sess.Fields["safeword"]); w != "" {
					c.Profile["safeword"] = r.sealer.Hash("safeword", w)
				}
				delete(sess.Fields, "safeword")
			}
			effects = append(effects, e)
		}
		msgs = append(msgs, look.apply(r.render(sessLang(&sess, r.content), outs))...)
		if wiped {
			c.Wipe = true
			c.Profile = nil
			break
		}
	}
	c.Session = &sess
	for _, e := range effects {
		if e.Kind == flows.EffectEscalate && !c.Wipe {
			c.Cases = append(c.Cases, r.sealCase(Case{
				Person: t.Person, Reason: e.Reason, Priority: e.Priority, Value: e.Value,
				Lang: sessLang(&sess, r.content), Channel: channel, At: r.now(),
				Excerpt: said[max(0, len(said)-maxExcerpt):],
			}))
		}
	}
	if len(relayed) > 0 {
		if d, ok := r.relayDelivery(t, relayed); ok {
			c.Deliveries = append(c.Deliveries, r.queued(d))
		}
	}
	if len(msgs) > 0 || clear {
		addr, err := r.sealer.Open([]byte(t.Profile["addr"]))
		if err != nil {
			r.log.Error("address unreadable; replies dropped", "event", "address_unreadable", "person", t.Person, "error", err)
			return c, effects
		}
		d := bot.Delivery{ID: token(), Person: t.Person, Channel: channel, Address: string(addr), Msgs: msgs, Clear: clear, Forget: c.Wipe}
		c.Deliveries = append(c.Deliveries, r.queued(d))
	}
	return c, effects
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
func (r *Runtime) flooded(profile, updates map[string]string) bool {
	now := r.now().UnixMilli()
	start, _ := strconv.ParseInt(field(profile, updates, "flood_at"), 10, 64)
	n, _ := strconv.Atoi(field(profile, updates, "flood_n"))
	if now-start > FloodWindow.Milliseconds() {
		start, n = now, 0
		updates["flood_told"] = ""
	}
	n++
	updates["flood_at"] = strconv.FormatInt(start, 10)
	updates["flood_n"] = strconv.Itoa(n)
	return n > FloodLimit
}

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

// relayLine is one relayed message as a coach sees it: under the case's
// alias, never the person's name or number.
func (r *Runtime) relayLine(alias, text string) bot.Outbound {
	return bot.Outbound{Text: r.Render(r.content.Catalog.Default(), "coach.relay_from", map[string]string{"alias": alias, "text": text})}
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
