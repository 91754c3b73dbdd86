package flows

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"slices"
	"time"
)

// A session is kept in a compact binary form (packedVersion): small enough
// that an idle person costs little in Redis, and quick to write on every
// turn. Strings the flows use most (flow and node ids, field names and
// values, option ids) are one byte each, from packedStrings; any other is
// written out. The owner is named by a 32-bit hash of their id: a session
// copied to another person's key does not load (sealing protects its
// content). Sessions kept as JSON before are read as they are.
//
// Layout: version byte, owner hash (4 bytes), then flow, node, the stack
// (count, then flow and node of each frame), the fields (count, then name
// and value of each, in name order), prompt, the options (count, then
// each), overlay, retries, stopped (0 or 1), seen (Unix milliseconds, 0
// for none). Counts and numbers are uvarints; a string is a uvarint code:
// 0 the empty string, 1 to len(packedStrings) one of them, and above that
// the length of the bytes that follow, plus len(packedStrings) + 1.
const packedVersion = 2

// packedStrings may only grow at its end: a session written with a longer
// table names codes an older binary cannot read, so a new table needs a
// new version.
var packedStrings = [...]string{
	"lang", "consent", "en", "es", "fr", "ar", "ne", "pt", "ru", "tl", "1", "2", "3", "4", "5", "6",
	"7", "8", "9", "10", "done", "skip", "part2", "quiz", "coach", "pause", "help", "yes", "resume",
	"intro", "part3", "no", "started", "right", "wrong", "todo", "checkins", "sc.coach", "jobs",
	"progress.debt", "progress.forced_labour", "progress.not_your_fault", "progress.recruitment",
	"progress.report_safely", "progress.safe_jobs", "progress.unions", "progress.wages", "sc.any",
	"back", "progress.bargaining", "progress.documents", "progress.equal_pay", "progress.fragile",
	"progress.migrant_rights", "progress.money", "progress.stress", "more", "sc.t_documents",
	"sc.t_wages", "sc.t_debt", "sc.t_not_your_fault", "checkin", "language", "rights", "settings",
	"selfcheck", "sc.t_recruitment", "case_feedback", "checkin_reminder", "lesson_bargaining",
	"lesson_debt", "go", "lesson_documents", "lesson_equal_pay", "lesson_forced_labour",
	"lesson_fragile", "lesson_migrant_rights", "lesson_money", "lesson_not_your_fault",
	"lesson_recruitment", "lesson_report_safely", "lesson_safe_jobs", "lesson_stress",
	"lesson_unions", "lesson_wages", "menu", "onboarding", "ask", "documents", "debt", "on", "note",
	"now", "ci_esc", "none", "fragile", "later", "ci_about", "off", "stop", "paused", "prequiz",
	"forced_labour", "recruitment", "wages", "not_your_fault", "past", "unsure", "continue", "topics",
	"sound", "thanks", "begin", "other", "undisclosed", "tz", "london", "europe", "gulf", "nepal",
	"manila", "default", "time", "any", "normal", "keep", "talk", "plan", "check", "agree", "list",
	"unions", "safe_jobs", "money", "stress", "equal_pay", "bargaining", "report_safely",
	"migrant_rights", "safeword", "reminders", "sorry", "mood", "low", "work", "working", "training",
	"looking", "not_looking", "problem", "unpaid", "threats", "urgent", "contact_check", "contact",
	"fragile_offer", "contact_on", "remind", "questions", "state", "about", "gender", "woman", "man",
	"age", "under18", "1824", "2534", "3549", "50plus", "about_done", "manage", "manage_paused",
	"morning", "afternoon", "evening", "tz_change", "saved", "resumed", "reset", "sector",
	"construction", "care", "farming", "factory", "hospitality", "location", "capital", "north",
	"south", "east", "west", "how", "instant", "weekly", "choose", "changed", "rules", "nothing",
	"sign", "mine", "same", "still", "spend", "punished", "depends", "pay", "hide", "together",
	"alone", "accept", "main", "welcome", "privacy", "privacy_more", "declined", "agreed", "list2",
	"list3", "first", "list4", "q_deception", "q_wages", "q_documents", "q_debt", "q_overtime",
	"q_conditions", "q_vulnerability", "q_isolation", "q_movement", "now_movement", "crisis_movement",
	"after_movement", "add_movement", "offer_movement", "declined_movement", "coach_movement",
	"q_threats", "now_threats", "crisis_threats",
}

var packedCodes = func() map[string]uint64 {
	m := make(map[string]uint64, len(packedStrings))
	for i, s := range packedStrings {
		m[s] = uint64(i + 1)
	}
	return m
}()

func ownerHash(person string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(person))
	return h.Sum32()
}

func packSession(person string, s Session) []byte {
	b := make([]byte, 0, 96)
	b = append(b, packedVersion)
	b = binary.BigEndian.AppendUint32(b, ownerHash(person))
	str := func(v string) {
		switch code, ok := packedCodes[v]; {
		case v == "":
			b = binary.AppendUvarint(b, 0)
		case ok:
			b = binary.AppendUvarint(b, code)
		default:
			b = binary.AppendUvarint(b, uint64(len(v))+uint64(len(packedStrings))+1)
			b = append(b, v...)
		}
	}
	num := func(n int) { b = binary.AppendUvarint(b, uint64(max(n, 0))) }
	str(s.Flow)
	str(s.Node)
	num(len(s.Stack))
	for _, f := range s.Stack {
		str(f.Flow)
		str(f.Node)
	}
	num(len(s.Fields))
	keys := make([]string, 0, len(s.Fields))
	for k := range s.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		str(k)
		str(s.Fields[k])
	}
	num(s.Prompt)
	num(len(s.Options))
	for _, o := range s.Options {
		str(o)
	}
	str(s.Overlay)
	num(s.Retries)
	if s.Stopped {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	var seen uint64
	if !s.Seen.IsZero() {
		seen = uint64(s.Seen.UnixMilli())
	}
	return binary.AppendUvarint(b, seen)
}

var errPacked = errors.New("damaged")

// unpackSession reads what packSession made for person.
func unpackSession(person string, b []byte) (Session, error) {
	if len(b) < 5 || b[0] != packedVersion {
		return Session{}, errPacked
	}
	if binary.BigEndian.Uint32(b[1:5]) != ownerHash(person) {
		return Session{}, errOtherPerson
	}
	r := packedReader{b: b[5:]}
	var s Session
	s.Flow, s.Node = r.str(), r.str()
	if n := r.count(); n > 0 {
		s.Stack = make([]Frame, n)
		for i := range s.Stack {
			s.Stack[i] = Frame{Flow: r.str(), Node: r.str()}
		}
	}
	if n := r.count(); n > 0 {
		s.Fields = make(map[string]string, n)
		for range n {
			k := r.str()
			s.Fields[k] = r.str()
		}
	}
	s.Prompt = int(r.num())
	if n := r.count(); n > 0 {
		s.Options = make([]string, n)
		for i := range s.Options {
			s.Options[i] = r.str()
		}
	}
	s.Overlay = r.str()
	s.Retries = int(r.num())
	s.Stopped = r.num() == 1
	if ms := r.num(); ms > 0 {
		s.Seen = time.UnixMilli(int64(ms)).UTC()
	}
	if r.err || len(r.b) != 0 {
		return Session{}, errPacked
	}
	return s, nil
}

// packedReader reads packSession's numbers and strings, noting any that
// runs past the end.
type packedReader struct {
	b   []byte
	err bool
}

func (r *packedReader) num() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count, refusing one larger than the bytes left could hold.
func (r *packedReader) count() int {
	n := r.num()
	if n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return 0
	}
	return int(n)
}

func (r *packedReader) str() string {
	code := r.num()
	switch {
	case code == 0:
		return ""
	case code <= uint64(len(packedStrings)):
		return packedStrings[code-1]
	}
	n := code - uint64(len(packedStrings)) - 1
	if n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
