package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// A warm turn: a process that has just committed a person's turn knows
// their state as the commit left it (Warm). When their next message comes
// to the same process, the turn is decided at once from that state, and
// the message is accepted and the turn committed in one script
// (AcceptTurn), instead of an accept that begins the turn and a commit:
// one round trip instead of two, and no inbox, work entry or lock.
//
// The script first checks that the state is still the person's: nobody
// holds their lock, nothing waits in their inbox, and their session,
// profile and transient fields are, field by field, what the turn was
// decided from. Whoever changed them meanwhile (another process's turn, a
// coach taking the case, a key rotation, an erasure, a Redis that lost
// its data) fails the check, and nothing of the turn is written: the
// script accepts the message as the accept script would instead, so a
// stale guess costs no round trip. The check compares what is kept, not a
// version that every writer would have to remember to bump.

// Warm is a person's state as a commit left it: what a warm turn decides
// from and AcceptTurn checks.
type Warm struct {
	// Session is the session as the engine wrote it, opened.
	Session []byte
	sealed  string            // as Redis holds it
	profile map[string]string // the profile hash, as Redis holds it
	temp    map[string]string // the transient fields' hash
}

// ErrNotWarm means a turn cannot be committed warm (an erasure, a message
// that changes the kept address): nothing was written.
var ErrNotWarm = errors.New("this turn cannot be committed warm")

// left notes in t the state a commit of c left, when it left the inbox
// empty (n) and the person kept.
func (t *Turn) left(c Commit, sealed string, n int) {
	if n != 0 || c.Wipe || t.Profile["first"] == "" || t.Profile["addr"] == "" {
		return
	}
	w := &Warm{Session: t.Session, sealed: t.sealed, profile: map[string]string{}, temp: map[string]string{}}
	if c.Session != nil {
		w.Session, w.sealed = c.Session, sealed
	}
	put := func(f, v string) {
		m := w.profile
		if strings.HasPrefix(f, TransientPrefix) {
			m = w.temp
		}
		if v == "" {
			delete(m, f)
		} else {
			m[f] = v
		}
	}
	for f, v := range t.Profile {
		put(f, v)
	}
	for f, v := range c.Profile {
		put(f, v)
	}
	t.Warm = w
}

// Turn is the turn of a, decided from w: the profile as the accept would
// leave it (acceptScript), with the transient fields, as Begin returns it.
func (w *Warm) Turn(a Accepted) *Turn {
	t := &Turn{Person: a.Person, Inbox: [][]byte{a.Sealed}, Values: []any{a.Value},
		Session: w.Session, sealed: w.sealed, Profile: make(map[string]string, len(w.profile)+len(w.temp)+2)}
	maps.Copy(t.Profile, w.profile)
	for f, v := range acceptFields(a, w.profile) {
		if v == "" {
			delete(t.Profile, f)
		} else {
			t.Profile[f] = v
		}
	}
	maps.Copy(t.Profile, w.temp)
	return t
}

// acceptFields are the profile fields an accept of a sets for a person
// already known (profile), "" for one it deletes.
func acceptFields(a Accepted, profile map[string]string) map[string]string {
	f := map[string]string{"ch": a.Channel, "last": strconv.FormatInt(a.At.UnixMilli(), 10)}
	if profile["unreachable"] != "" {
		f["unreachable"] = ""
	}
	return f
}

// Usable reports whether a can be accepted with a warm turn: not a
// message that changes the kept address.
func (w *Warm) Usable(a Accepted) bool { return w != nil && !a.Readdress }

// acceptTurnScript checks the state, records the message once (as accept
// does: dedupe, recent platform ids, the profile's fields) and commits the
// turn (commitBody). When the state is not the one the turn was decided
// from, it writes none of that and accepts the message as the accept
// script does instead (acceptBody), so a stale guess costs no round trip.
// KEYS: the commit's, with the accept's and then the person's seen and
// recent sets just before the last. ARGV: the commit's, the accept's,
// then now, the dedupe window, the message id, the platform id ("" for
// none), the sealed session expected, the profile's field count and
// pairs, the transient fields' count and pairs, and last where these
// start.
var acceptTurnScript = newBatched("accept_turn", TripAcceptTurn, recordLua+`
local function accept(KEYS, ARGV)
`+acceptBody+`
end
local b = tonumber(ARGV[#ARGV])
local function stale()
  local k, a = {}, {}
  for j = 1, `+strconv.Itoa(acceptKeys)+` do k[j] = KEYS[#KEYS - `+strconv.Itoa(acceptKeys+3)+` + j] end
  for j = 1, `+strconv.Itoa(acceptArgs)+` do a[j] = ARGV[b - `+strconv.Itoa(acceptArgs+1)+` + j] end
  return {-2, accept(k, a)}
end
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('LLEN', KEYS[2]) > 0 then return stale() end
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[b + 4] then return stale() end
-- same: the hash at key holds exactly the pairs counted at ARGV[at].
local function same(key, at)
  local n = tonumber(ARGV[at])
  local got = redis.call('HGETALL', key)
  if #got ~= 2 * n then return false end
  local want = {}
  for k = 1, n do want[ARGV[at + 2 * k - 1]] = ARGV[at + 2 * k] end
  for k = 1, #got, 2 do
    if want[got[k]] ~= got[k + 1] then return false end
  end
  return true
end
if not same(KEYS[4], b + 5) or not same(KEYS[#KEYS], b + 6 + 2 * tonumber(ARGV[b + 5])) then return stale() end
if not record(KEYS[#KEYS - 2], KEYS[#KEYS - 1], ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]) then return -3 end
local warm = true
`+commitBody)

// AcceptTurn accepts a and commits c, the turn t that w.Turn(a) made, in
// one round trip, if the person's state is still w; t.Warm is then the
// state it left. When it is not, it writes nothing of the turn and, in the
// same round trip, accepts a as AcceptTaking(a, consumer) does: warm is
// false and fresh and the entries taken are the accept's. Either way
// fresh is false for a message seen before. ErrNotWarm means it wrote
// nothing.
func (s *Store) AcceptTurn(ctx context.Context, a Accepted, consumer string, w *Warm, t *Turn, c Commit) (warm, fresh bool, taken []Entry, err error) {
	if !w.Usable(a) || c.Wipe {
		return false, false, nil, ErrNotWarm
	}
	c.Handled, c.Ack = 0, Entry{}
	// The accept's fields go with the turn's, which win.
	fields := acceptFields(a, w.profile)
	maps.Copy(fields, c.Profile)
	c.Profile = fields
	ak, aa := s.acceptCall(a, consumer)
	keys, args, _, sealed := s.commitCall(t, c, append(ak, s.pkey(a.Person, kSeen), s.pkey(a.Person, kRecent)),
		len(aa)+8+2*(len(w.profile)+len(w.temp)))
	args = append(args, aa...)
	b := len(args) + 1
	// The accept's time, window, id and platform id, as it has them.
	args = append(args, aa[0], aa[1], aa[2], aa[7], w.sealed, len(w.profile))
	for f, v := range w.profile {
		args = append(args, f, v)
	}
	args = append(args, len(w.temp))
	for f, v := range w.temp {
		args = append(args, f, v)
	}
	args = append(args, b)
	res, err := acceptTurnScript.run(ctx, s, s.tagOf(a.Person), keys, args)
	if err != nil {
		return false, false, nil, fmt.Errorf("accept with warm turn: %w", err)
	}
	if n, ok := res.(int64); ok && n == -3 {
		return true, false, nil, nil
	}
	if parts, ok := res.([]any); ok && len(parts) == 2 {
		if n, _ := parts[0].(int64); n == -2 {
			fresh, taken, err := s.accepted(ctx, a, parts[1])
			return false, fresh, taken, err
		}
	}
	_, taken, err = s.committed(ctx, t, c, "", sealed, res)
	return err == nil, err == nil, taken, err
}
