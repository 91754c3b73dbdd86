package loadtest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// kind is what a Redis round trip was for.
type kind int

const (
	kAccept     kind = iota // accept script (dedupe, inbox, profile, work item)
	kBegin                  // turn: lock and load
	kCommit                 // turn: save, queue the reply, unlock
	kUnlock                 // turn: unlock with an empty inbox
	kEffects                // turn: global sets and counters after a commit
	kWorkRead               // work queue: XREADGROUP
	kWorkClaim              // work queue: XAUTOCLAIM
	kWorkAck                // work queue: XACK+XDEL pipeline
	kOutRead                // outbound queue: XREADGROUP
	kOutClaim               // outbound queue: XAUTOCLAIM
	kOutAck                 // outbound queue: XACK+XDEL pipeline
	kNext                   // sender: lock and fetch the oldest delivery
	kMark                   // sender: mark a message sent
	kSendUnlock             // sender: unlock after a failure
	kOther                  // anything else (group creation, …)
	nKinds
)

var kindNames = [nKinds]string{
	"accept", "turn_begin", "turn_commit", "turn_unlock", "turn_effects",
	"work_read", "work_claim", "work_ack", "out_read", "out_claim", "out_ack",
	"send_next", "send_mark", "send_unlock", "other",
}

// group is the coarse breakdown the report gives.
func (k kind) group() string {
	switch k {
	case kAccept:
		return "accept"
	case kBegin, kCommit, kUnlock, kEffects:
		return "turn"
	case kWorkRead, kWorkClaim, kWorkAck:
		return "work_queue"
	case kOutRead, kOutClaim, kOutAck:
		return "out_queue"
	case kNext, kMark, kSendUnlock:
		return "send"
	}
	return "other"
}

type counts [nKinds]int64

func (c counts) total() int64 {
	var t int64
	for _, v := range c {
		t += v
	}
	return t
}

func (c counts) minus(o counts) counts {
	for i := range c {
		c[i] -= o[i]
	}
	return c
}

// tripHook counts the runtime's round trips by kind and reports each
// completed delivery (the sender's final "mark sent") to done.
//
// It recognises the store's scripts by their keys, so it depends on their
// layout (store/store.go): the mark-sent script has four keys, the first
// the person's sending lock "<ns>:{u:<id>}:slock", and its fourth argument
// is "1" on a delivery's last message. The package test fails if that
// changes (no reply is ever seen complete).
type tripHook struct {
	ns     string
	n      [nKinds]atomic.Int64
	done   func(person string, at time.Time)
	prefix string // "<ns>:{u:"
}

func newTripHook(ns string, done func(person string, at time.Time)) *tripHook {
	return &tripHook{ns: ns, done: done, prefix: ns + ":{u:"}
}

func (h *tripHook) snapshot() counts {
	var c counts
	for i := range c {
		c[i] = h.n[i].Load()
	}
	return c
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
		if person != "" && err == nil {
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
		k := kOther
		if len(cmds) > 0 {
			switch cmds[0].Name() {
			case "xack", "xdel":
				if h.isWork(argString(cmds[0].Args(), 1)) {
					k = kWorkAck
				} else {
					k = kOutAck
				}
			case "sadd", "srem", "hincrby":
				k = kEffects
			}
		}
		h.n[k].Add(1)
		return next(ctx, cmds)
	}
}

func (h *tripHook) isWork(stream string) bool { return stream == h.ns+":work" }

// classify names a command's purpose; for a successful-looking final
// mark-sent it also returns the person id.
func (h *tripHook) classify(cmd redis.Cmder) (kind, string) {
	args := cmd.Args()
	switch cmd.Name() {
	case "evalsha", "eval":
		nkeys, _ := args[2].(int)
		if nkeys < 1 || len(args) < 3+nkeys {
			return kOther, ""
		}
		first := argString(args, 3)
		switch {
		case strings.HasSuffix(first, "}:seen"):
			return kAccept, ""
		case strings.HasSuffix(first, "}:lock"):
			switch {
			case nkeys == 1:
				return kUnlock, ""
			case nkeys == 4 && strings.HasSuffix(argString(args, 4), "}:in"):
				return kBegin, ""
			}
			return kCommit, ""
		case strings.HasSuffix(first, "}:slock"):
			switch nkeys {
			case 1:
				return kSendUnlock, ""
			case 3:
				return kNext, ""
			case 4:
				if argString(args, 3+nkeys+3) == "1" {
					if id, ok := strings.CutPrefix(strings.TrimSuffix(first, "}:slock"), h.prefix); ok {
						return kMark, id
					}
				}
				return kMark, ""
			}
		}
	case "xreadgroup":
		if argString(args, 2) == "workers" {
			return kWorkRead, ""
		}
		return kOutRead, ""
	case "xautoclaim":
		if h.isWork(argString(args, 1)) {
			return kWorkClaim, ""
		}
		return kOutClaim, ""
	}
	return kOther, ""
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
