package runner

import (
	"strconv"
	"strings"

	"github.com/lifeline-org/lifeline/bot"
)

// Discreet delivery. Someone may check or overhear a person's phone, so:
//
//   - what Lifeline starts on its own (a check-in and its reminder, a
//     broadcast, a rights reminder, a job alert, a retention notice, a
//     coach's words) arrives without sound, unless the person turned
//     sound on in settings: everything sent through SendTo and SendOnce,
//     and the replies of a turn started by Trigger;
//   - lessons and a coach's words cannot be forwarded or saved from the
//     chat.
//
// Channels that can do neither (SMS, the terminal) ignore the flags.

// Silent reports whether the messages Lifeline starts go to the person
// with this profile without sound: always, unless they turned sound on.
func Silent(profile map[string]string) bool { return profile[bot.SoundField] == "" }

// LessonFlow reports whether flow id is a lesson, whose messages the
// person cannot forward or save.
func LessonFlow(id string) bool { return strings.HasPrefix(id, "lesson_") }

// look says how the messages of one inbound are delivered. purpose, lang
// and last mark messages Lifeline started (see bot.Outbound.Purpose), so
// a channel with a reply window (WhatsApp) can choose a template.
type look struct {
	silent, protect bool
	purpose, lang   string
	last            int64
}

// lookOf is the look of what the engine answers to in in one step from
// flow from to flow to: silent when the runtime started the flow (in.Flow,
// a check-in) and the person wants no sound; protected when the step began
// or ended in a lesson. sound is the person's SoundField.
func lookOf(in bot.Inbound, from, to, sound string) look {
	return look{silent: in.Flow != "" && sound == "", protect: LessonFlow(from) || LessonFlow(to)}
}

// apply marks msgs (in place) with the look.
func (l look) apply(msgs []bot.Outbound) []bot.Outbound {
	for i := range msgs {
		msgs[i].Silent = msgs[i].Silent || l.silent
		msgs[i].Protect = msgs[i].Protect || l.protect
		if msgs[i].Purpose == "" {
			msgs[i].Purpose = l.purpose
		}
		if msgs[i].Purpose != "" {
			msgs[i].Lang, msgs[i].Last = l.lang, l.last
		}
	}
	return msgs
}

// started returns copies of msgs marked for a person who did not ask for
// them at this moment (SendTo, SendOnce): silent unless profile asks for
// sound.
// A message with a Purpose also gets the person's language, lang, and
// the time they last wrote.
func started(profile map[string]string, lang string, msgs []bot.Outbound) []bot.Outbound {
	return look{silent: Silent(profile), lang: lang, last: lastWrote(profile)}.apply(append([]bot.Outbound(nil), msgs...))
}

// lastWrote is when the person last wrote (the profile's "last", Unix
// ms), or 0.
func lastWrote(profile map[string]string) int64 {
	n, _ := strconv.ParseInt(profile["last"], 10, 64)
	return n
}

// soundLine is the MY DATA line about sound, or "" where it does not
// apply: only Telegram delivers silently, so it shows there, or once the
// person chose.
func soundLine(profile map[string]string) string {
	switch {
	case profile[bot.SoundField] != "":
		return "discreet.mydata_sound"
	case profile["ch"] == "telegram":
		return "discreet.mydata_silent"
	}
	return ""
}
