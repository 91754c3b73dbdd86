package store

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Trip is what one Redis round trip of the runtime was for.
type Trip int

// Round trip purposes.
const (
	TripAccept     Trip = iota // accept script (dedupe, inbox, profile, work item)
	TripBegin                  // turn: lock and load
	TripCommit                 // turn: save, queue the reply, unlock
	TripUnlock                 // turn: unlock with an empty inbox
	TripEffects                // turn: global sets and counters after a commit
	TripWorkRead               // work queue: XREADGROUP
	TripWorkClaim              // work queue: XAUTOCLAIM
	TripWorkAck                // work queue: XACK+XDEL pipeline
	TripOutRead                // outbound queue: XREADGROUP
	TripOutClaim               // outbound queue: XAUTOCLAIM
	TripOutAck                 // outbound queue: XACK+XDEL pipeline
	TripNext                   // sender: lock and fetch the oldest delivery
	TripMark                   // sender: mark a message sent
	TripSendUnlock             // sender: unlock after a failure
	TripOther                  // anything else (group creation, …)
	TripAcceptTurn             // accept with a warm turn's commit (warm.go)
	NTrips
)

var tripNames = [NTrips]string{
	"accept", "turn_begin", "turn_commit", "turn_unlock", "turn_effects",
	"work_read", "work_claim", "work_ack", "out_read", "out_claim", "out_ack",
	"send_next", "send_mark", "send_unlock", "other", "accept_turn",
}

// String names the purpose, as reports print it.
func (t Trip) String() string { return tripNames[t] }

// Group is the coarse breakdown reports give: accept, turn, work_queue,
// out_queue, send or other.
func (t Trip) Group() string {
	switch t {
	case TripAccept, TripAcceptTurn:
		return "accept"
	case TripBegin, TripCommit, TripUnlock, TripEffects:
		return "turn"
	case TripWorkRead, TripWorkClaim, TripWorkAck:
		return "work_queue"
	case TripOutRead, TripOutClaim, TripOutAck:
		return "out_queue"
	case TripNext, TripMark, TripSendUnlock:
		return "send"
	}
	return "other"
}

// Trips are round trips counted by purpose.
type Trips [NTrips]int64

// Total is every round trip.
func (c Trips) Total() int64 {
	var t int64
	for _, v := range c {
		t += v
	}
	return t
}

// Minus is c less o, purpose by purpose.
func (c Trips) Minus(o Trips) Trips {
	for i := range c {
		c[i] -= o[i]
	}
	return c
}

// TripCounter counts the round trips of a store's client by purpose (for
// the load test).
type TripCounter struct {
	hook *tripHook
}

// Others returns the round trips counted as other, by command and the
// last part of its first key.
func (c *TripCounter) Others() map[string]int64 {
	c.hook.mu.Lock()
	defer c.hook.mu.Unlock()
	return maps.Clone(c.hook.others)
}

// Snapshot returns the counts so far.
func (c *TripCounter) Snapshot() Trips {
	var t Trips
	for i := range t {
		t[i] = c.hook.n[i].Load()
	}
	return t
}

// CountTrips counts, from now on, every round trip of the store's client
// (each command or pipeline, shared with any other Store on the same
// client). delivered, when not nil, is told each time a delivery's last
// message is marked sent: whose, and when the channel had sent it.
func (s *Store) CountTrips(delivered func(person string, at time.Time)) *TripCounter {
	h := &tripHook{ns: s.ns, done: delivered}
	s.rdb.AddHook(h)
	return &TripCounter{hook: h}
}

// tripHook recognises the store's batched scripts (batch.go) by their
// SHA, so it follows their layout (store.go): each part of a mark-sent
// batch has as its first key the person's sending lock
// "<ns>:{sNN}:u:<id>:slock", and its fourth argument is "1" on a
// delivery's last message. bot/loadtest's test fails if that changes (no
// reply is ever seen complete).
type tripHook struct {
	ns   string
	n    [NTrips]atomic.Int64
	done func(person string, at time.Time)

	mu     sync.Mutex
	others map[string]int64 // TripOther by command (and first key's kind)
}

// countOther names a command counted as other: its name and its first key
// without the namespace, a person's by its kind ("srem sub:jobs",
// "hgetall person:p"), so the report names no person.
func (h *tripHook) countOther(cmd redis.Cmder) {
	args := cmd.Args()
	name := cmd.Name()
	key := argString(args, 1)
	if name == "evalsha" || name == "eval" {
		key = argString(args, 3)
	}
	key = strings.TrimPrefix(key, h.ns+":")
	if isPersonKey(key) {
		// A person's key by its kind, not their id: one row for all.
		key = "person:" + key[strings.LastIndexByte(key, ':')+1:]
	}
	h.mu.Lock()
	if h.others == nil {
		h.others = map[string]int64{}
	}
	h.others[name+" "+key]++
	h.mu.Unlock()
}

func (h *tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		k, people := h.classify(cmd)
		h.n[k].Add(1)
		if k == TripOther {
			h.countOther(cmd)
		}
		at := time.Now() // the channel has just sent the last messages
		err := next(ctx, cmd)
		h.delivered(cmd, people, at)
		return err
	}
}

// delivered tells h.done of each person whose delivery's last message a
// mark-sent call recorded.
func (h *tripHook) delivered(cmd redis.Cmder, people []string, at time.Time) {
	if len(people) == 0 || cmd.Err() != nil || h.done == nil {
		return
	}
	c, ok := cmd.(*redis.Cmd)
	if !ok {
		return
	}
	parts, ok := c.Val().([]any)
	if !ok {
		parts = []any{c.Val()} // the one-person form's reply
	}
	for i, person := range people {
		if person == "" || i >= len(parts) {
			continue
		}
		if v, ok := parts[i].(int64); ok && v >= 0 { // 1: more wait, 0: outbox empty; -1 lock lost
			h.done(person, at)
		}
	}
}

func (h *tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		k := TripOther
		if len(cmds) > 0 {
			switch cmds[0].Name() {
			case "xack", "xdel":
				if h.isWork(argString(cmds[0].Args(), 1)) {
					k = TripWorkAck
				} else {
					k = TripOutAck
				}
			case "sadd", "srem", "hincrby":
				k = TripEffects
			case "xreadgroup", "xautoclaim", "evalsha", "eval":
				// A pipeline of hot scripts is the first one's trip:
				// the others' calls rode along with it.
				k, _ = h.classify(cmds[0])
			}
		}
		h.n[k].Add(1)
		at := time.Now()
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if kind, people := h.classify(cmd); kind == TripMark {
				h.delivered(cmd, people, at)
			}
		}
		return err
	}
}

func (h *tripHook) isWork(stream string) bool { return strings.HasSuffix(stream, "}:work") }

// classify names a command's purpose; for a mark-sent batch it also
// returns, part by part, the person whose delivery's last message it
// marks ("" for a part that marks no last message).
func (h *tripHook) classify(cmd redis.Cmder) (Trip, []string) {
	args := cmd.Args()
	switch cmd.Name() {
	case "evalsha", "eval":
		b, ok := batchedByHash(cmd.Name(), argString(args, 1))
		if !ok {
			// The unlock script: one key, a person's lock.
			if nkeys, _ := args[2].(int); nkeys == 1 {
				switch first := argString(args, 3); {
				case strings.HasSuffix(first, ":"+kLock):
					return TripUnlock, nil
				case strings.HasSuffix(first, ":"+kSLock):
					return TripSendUnlock, nil
				}
			}
			return TripOther, nil
		}
		if b.trip != TripMark {
			return b.trip, nil
		}
		if !b.batch {
			return TripMark, markedOne(args)
		}
		return TripMark, markedPeople(args)
	case "xreadgroup":
		if argString(args, 2) == WorkGroup {
			return TripWorkRead, nil
		}
		return TripOutRead, nil
	case "xautoclaim":
		if h.isWork(argString(args, 1)) {
			return TripWorkClaim, nil
		}
		return TripOutClaim, nil
	}
	return TripOther, nil
}

// markedOne reads a one-person mark-sent call: [evalsha, sha, nkeys,
// keys…, token, id, n, fin, …].
func markedOne(args []any) []string {
	nkeys, _ := args[2].(int)
	if argString(args, 3+nkeys+3) != "1" {
		return []string{""}
	}
	slock := strings.TrimSuffix(argString(args, 3), ":"+kSLock)
	_, id, _ := strings.Cut(slock, "}:u:")
	return []string{id}
}

// markedPeople reads a mark-sent batch's parts: [evalsha, sha, numkeys,
// keys…, n, (nk, na, args…)…].
func markedPeople(args []any) []string {
	nkeys, _ := args[2].(int)
	keys, rest := 3, 3+nkeys
	n, _ := strconv.Atoi(argString(args, rest))
	out := make([]string, n)
	ai := rest + 1
	for i := range n {
		nk, _ := strconv.Atoi(argString(args, ai))
		na, _ := strconv.Atoi(argString(args, ai+1))
		if argString(args, ai+2+3) == "1" {
			slock := strings.TrimSuffix(argString(args, keys), ":"+kSLock)
			if _, id, ok := strings.Cut(slock, "}:u:"); ok {
				out[i] = id
			}
		}
		keys += nk
		ai += 2 + na
	}
	return out
}

func argString(args []any, i int) string {
	if i >= len(args) {
		return ""
	}
	switch v := args[i].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(args[i])
}
