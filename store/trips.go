package store

import (
	"context"
	"fmt"
	"strings"
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
	NTrips
)

var tripNames = [NTrips]string{
	"accept", "turn_begin", "turn_commit", "turn_unlock", "turn_effects",
	"work_read", "work_claim", "work_ack", "out_read", "out_claim", "out_ack",
	"send_next", "send_mark", "send_unlock", "other",
}

// String names the purpose, as reports print it.
func (t Trip) String() string { return tripNames[t] }

// Group is the coarse breakdown reports give: accept, turn, work_queue,
// out_queue, send or other.
func (t Trip) Group() string {
	switch t {
	case TripAccept:
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

// tripHook recognises the store's scripts by their keys, so it follows
// their layout (store.go): the mark-sent script has four keys, the first
// the person's sending lock "<ns>:{sNN}:u:<id>:slock", and its fourth argument
// is "1" on a delivery's last message. bot/loadtest's test fails if that
// changes (no reply is ever seen complete).
type tripHook struct {
	ns   string
	n    [NTrips]atomic.Int64
	done func(person string, at time.Time)
}

func (h *tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		k, person := h.classify(cmd)
		h.n[k].Add(1)
		var at time.Time
		if person != "" {
			at = time.Now() // the channel has just sent the last message
		}
		err := next(ctx, cmd)
		if person != "" && err == nil && h.done != nil {
			if c, ok := cmd.(*redis.Cmd); ok {
				if v, err := c.Int64(); err == nil && v >= 0 { // 1: more wait, 0: outbox empty; -1 lock lost
					h.done(person, at)
				}
			}
		}
		return err
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
			case "xreadgroup", "xautoclaim":
				k, _ = h.classify(cmds[0])
			}
		}
		h.n[k].Add(1)
		return next(ctx, cmds)
	}
}

func (h *tripHook) isWork(stream string) bool { return strings.HasSuffix(stream, "}:work") }

// classify names a command's purpose; for a successful-looking final
// mark-sent it also returns the person id.
func (h *tripHook) classify(cmd redis.Cmder) (Trip, string) {
	args := cmd.Args()
	switch cmd.Name() {
	case "evalsha", "eval":
		nkeys, _ := args[2].(int)
		if nkeys < 1 || len(args) < 3+nkeys {
			return TripOther, ""
		}
		first := argString(args, 3)
		switch {
		case strings.HasSuffix(first, ":"+kSeen):
			return TripAccept, ""
		case strings.HasSuffix(first, ":"+kLock):
			switch {
			case nkeys == 1:
				return TripUnlock, ""
			case nkeys == 4 && strings.HasSuffix(argString(args, 4), ":"+kInbox):
				return TripBegin, ""
			}
			return TripCommit, ""
		case strings.HasSuffix(first, ":"+kSLock):
			switch nkeys {
			case 1:
				return TripSendUnlock, ""
			case 3:
				return TripNext, ""
			case 4:
				if argString(args, 3+nkeys+3) == "1" {
					if _, rest, ok := strings.Cut(strings.TrimSuffix(first, ":"+kSLock), "}:u:"); ok {
						return TripMark, rest
					}
				}
				return TripMark, ""
			}
		}
	case "xreadgroup":
		if argString(args, 2) == "workers" {
			return TripWorkRead, ""
		}
		return TripOutRead, ""
	case "xautoclaim":
		if h.isWork(argString(args, 1)) {
			return TripWorkClaim, ""
		}
		return TripOutClaim, ""
	}
	return TripOther, ""
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
