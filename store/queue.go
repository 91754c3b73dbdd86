package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Queue is one or more Redis streams (a sharded queue has one a shard)
// read through a consumer group: an entry stays pending until
// acknowledged, and entries a dead consumer held are claimed by another
// after MinIdle. Each entry names its stream, so it is acknowledged where
// it was read.
//
// On one Redis a blocking read waits on every stream at once (one
// XREADGROUP naming them all). Redis Cluster refuses a command whose keys
// lie in different slots, so there a blocking read is served by one
// reader a stream, started at the first read and stopped with its context.
type Queue struct {
	rdb     redis.UniversalClient
	Streams []string
	Group   string
	// fixed: the stream and its group are made once and may be deleted on
	// purpose (a broadcast's chunks); a lost group is not recreated then,
	// and reads find nothing.
	fixed bool

	mu   sync.Mutex
	pump *pump // the cluster's readers, while they run
}

// Entry is one queued item.
type Entry struct {
	ID      string
	Stream  string // the stream it was read from
	Payload []byte
	// Again is set on an entry delivered before: re-read from the
	// consumer's own pending entries or claimed from another consumer
	// (whose worker may have died holding a lock).
	Again bool
	// Next, on an outbound entry a commit took (CommitTaking), is the
	// person's oldest delivery, whose sending lock the commit took for
	// Token: the sender starts with it instead of NextOutbound.
	Next *Outgoing
	// Begun, on a work entry an accept took (AcceptTaking), is the
	// person's turn, whose lock the accept took for Token: the worker
	// starts with it instead of Begin.
	Begun *Turn
	Token string
}

// Queue returns the queue on one stream read by group.
func (s *Store) Queue(stream, group string) *Queue {
	return &Queue{rdb: s.rdb, Streams: []string{stream}, Group: group}
}

// ShardedQueue returns the queue on streams (one a shard) read by group.
func (s *Store) ShardedQueue(streams []string, group string) *Queue {
	return &Queue{rdb: s.rdb, Streams: streams, Group: group}
}

// Name names the queue in logs: its first stream, with "…" when sharded.
func (q *Queue) Name() string {
	if len(q.Streams) > 1 {
		return q.Streams[0] + "…"
	}
	return q.Streams[0]
}

// OutChannel names the channel of an outbound stream (OutStreams).
func (s *Store) OutChannel(stream string) (string, bool) {
	_, ch, ok := strings.Cut(stream, ":out:")
	return ch, ok && ch != ""
}

func (s *Store) isOut(stream string) bool {
	_, ok := s.OutChannel(stream)
	return ok
}

// QueueDepth returns how many entries wait in streams (pending or new).
func (s *Store) QueueDepth(ctx context.Context, streams ...string) (int64, error) {
	return depth(ctx, s.rdb, streams)
}

func depth(ctx context.Context, rdb redis.UniversalClient, streams []string) (int64, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(streams))
	for i, st := range streams {
		cmds[i] = pipe.XLen(ctx, st)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// Ensure creates the streams and group if they do not exist.
func (q *Queue) Ensure(ctx context.Context) error {
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.StatusCmd, len(q.Streams))
	for i, st := range q.Streams {
		cmds[i] = pipe.XGroupCreateMkStream(ctx, st, q.Group, "0")
	}
	_, _ = pipe.Exec(ctx)
	for i, c := range cmds {
		if err := c.Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("create group %s: %w", q.Streams[i], err)
		}
	}
	return nil
}

// Read returns up to count new entries for consumer (per stream), waiting
// up to block (a negative block does not wait).
func (q *Queue) Read(ctx context.Context, consumer string, count int, block time.Duration) ([]Entry, error) {
	if block < 0 || len(q.Streams) == 1 {
		return q.read(ctx, consumer, q.Streams, ">", count, block)
	}
	if _, cluster := q.rdb.(*redis.ClusterClient); !cluster {
		return q.readAll(ctx, consumer, count, block)
	}
	return q.pumped(ctx, consumer, count, block)
}

// Own returns up to count entries already delivered to consumer and not
// yet acknowledged, oldest first within each stream.
func (q *Queue) Own(ctx context.Context, consumer string, count int) ([]Entry, error) {
	return q.read(ctx, consumer, q.Streams, "0", count, -1)
}

// EachOwn passes every entry already delivered to consumer and not yet
// acknowledged to f, a page of at most count a stream at a time: after a
// lost connection, a read Redis carried out may never have reached us.
// The first page of every stream comes in one round trip (a node).
func (q *Queue) EachOwn(ctx context.Context, consumer string, count int, f func([]Entry)) error {
	first, err := q.read(ctx, consumer, q.Streams, "0", count, -1)
	if err != nil {
		return err
	}
	if len(first) > 0 {
		f(first)
	}
	// A stream whose first page was full may hold more: its next pages
	// start after the last id it gave.
	last, n := map[string]string{}, map[string]int{}
	for _, e := range first {
		last[e.Stream] = e.ID
		n[e.Stream]++
	}
	full := map[string]string{}
	for st, k := range n {
		if k >= count {
			full[st] = last[st]
		}
	}
	for _, st := range q.Streams {
		after, ok := full[st]
		for ok {
			es, err := q.read(ctx, consumer, []string{st}, after, count, -1)
			if err != nil {
				return err
			}
			if len(es) > 0 {
				f(es)
			}
			if len(es) < count {
				break
			}
			after = es[len(es)-1].ID
		}
	}
	return nil
}

// read reads from each of streams at start, one command a stream in one
// pipeline (a cluster sends each node its part); with one stream it may
// block.
func (q *Queue) read(ctx context.Context, consumer string, streams []string, start string, count int, block time.Duration) ([]Entry, error) {
	if len(streams) > 1 {
		block = -1
	}
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.XStreamSliceCmd, len(streams))
	for i, st := range streams {
		cmds[i] = pipe.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: q.Group, Consumer: consumer, Streams: []string{st, start},
			Count: int64(count), Block: block,
		})
	}
	_, _ = pipe.Exec(ctx)
	var out []Entry
	var firstErr error
	lost := false
	for _, c := range cmds {
		res, err := c.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil && strings.Contains(err.Error(), "NOGROUP"):
			lost = true
		case err != nil:
			firstErr = cmp.Or(firstErr, err)
		default:
			for _, st := range res {
				// Any start but ">" re-reads entries delivered before.
				out = append(out, entries(st.Stream, st.Messages, start != ">")...)
			}
		}
	}
	if lost {
		// Redis lost a group (a restart without persistence): recreate
		// it and try again next time.
		if err := q.lostGroup(ctx); err != nil {
			firstErr = cmp.Or(firstErr, err)
		}
	}
	return out, firstErr
}

// readAll waits on every stream in one XREADGROUP (one Redis only).
func (q *Queue) readAll(ctx context.Context, consumer string, count int, block time.Duration) ([]Entry, error) {
	args := make([]string, 0, 2*len(q.Streams))
	args = append(args, q.Streams...)
	for range q.Streams {
		args = append(args, ">")
	}
	res, err := q.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: q.Group, Consumer: consumer, Streams: args, Count: int64(count), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return nil, q.lostGroup(ctx)
		}
		return nil, err
	}
	var out []Entry
	for _, st := range res {
		out = append(out, entries(st.Stream, st.Messages, false)...)
	}
	return out, nil
}

// pump is the cluster's blocking readers of a queue: one a stream, each
// waiting on its own stream and handing what it reads to the queue's
// Read. What a reader took and nobody has read yet stays pending for the
// consumer, as any entry read and not acknowledged.
type pump struct {
	ctx      context.Context
	consumer string
	got      chan []Entry
	errs     chan error
}

func (q *Queue) pumped(ctx context.Context, consumer string, count int, block time.Duration) ([]Entry, error) {
	p := q.startPump(ctx, consumer, count)
	var wait <-chan time.Time
	if block > 0 {
		t := time.NewTimer(block)
		defer t.Stop()
		wait = t.C
	}
	var out []Entry
	select {
	case es := <-p.got:
		out = es
	case err := <-p.errs:
		return nil, err
	case <-wait:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(out) < count {
		select {
		case es := <-p.got:
			out = append(out, es...)
		default:
			return out, nil
		}
	}
	return out, nil
}

// startPump starts the readers unless they run for consumer under a live
// context.
func (q *Queue) startPump(ctx context.Context, consumer string, count int) *pump {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p := q.pump; p != nil && p.ctx.Err() == nil && p.consumer == consumer {
		return p
	}
	p := &pump{ctx: ctx, consumer: consumer, got: make(chan []Entry), errs: make(chan error, 1)}
	q.pump = p
	for _, st := range q.Streams {
		go func() {
			for ctx.Err() == nil {
				es, err := q.read(ctx, consumer, []string{st}, ">", count, 2*time.Second)
				if err != nil {
					select {
					case p.errs <- err:
					default:
					}
					sleep(ctx, 250*time.Millisecond)
					continue
				}
				if len(es) == 0 {
					continue
				}
				select {
				case p.got <- es:
				case <-ctx.Done():
				}
			}
		}()
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func entries(stream string, msgs []redis.XMessage, again bool) []Entry {
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		p, _ := m.Values["p"].(string)
		out = append(out, Entry{ID: m.ID, Stream: stream, Payload: []byte(p), Again: again})
	}
	return out
}

// takenEntries reads XREADGROUP replies (a script's) as entries.
func takenEntries(replies []any) []Entry {
	var taken []Entry
	for _, r := range replies {
		streams, _ := r.([]any)
		for _, st := range streams {
			pair, _ := st.([]any)
			if len(pair) != 2 {
				continue
			}
			name, _ := pair[0].(string)
			msgs, _ := pair[1].([]any)
			for _, m := range msgs {
				idf, _ := m.([]any)
				if len(idf) != 2 {
					continue
				}
				id, _ := idf[0].(string)
				fields, _ := idf[1].([]any)
				e := Entry{ID: id, Stream: name}
				for i := 0; i+1 < len(fields); i += 2 {
					if f, _ := fields[i].(string); f == "p" {
						v, _ := fields[i+1].(string)
						e.Payload = []byte(v)
					}
				}
				taken = append(taken, e)
			}
		}
	}
	return taken
}

// Claim takes over up to count entries (a stream) that have been pending
// for longer than minIdle (their consumer died or stalled).
func (q *Queue) Claim(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]Entry, error) {
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.XAutoClaimCmd, len(q.Streams))
	for i, st := range q.Streams {
		cmds[i] = pipe.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: st, Group: q.Group, Consumer: consumer,
			MinIdle: minIdle, Start: "0", Count: int64(count),
		})
	}
	_, _ = pipe.Exec(ctx)
	var out []Entry
	var firstErr error
	lost := false
	for i, c := range cmds {
		msgs, _, err := c.Result()
		switch {
		case err != nil && strings.Contains(err.Error(), "NOGROUP"):
			lost = true
		case err != nil:
			firstErr = cmp.Or(firstErr, err)
		default:
			out = append(out, entries(q.Streams[i], msgs, true)...)
		}
	}
	if lost {
		firstErr = cmp.Or(firstErr, q.lostGroup(ctx))
	}
	return out, firstErr
}

// lostGroup recreates a lost group, unless the queue is fixed.
func (q *Queue) lostGroup(ctx context.Context) error {
	if q.fixed {
		return nil
	}
	return q.Ensure(ctx)
}

// Hold renews consumer's hold on a pending entry, so that no other
// consumer claims it as idle.
func (q *Queue) Hold(ctx context.Context, consumer string, e Entry) error {
	return q.rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: q.streamOf(e), Group: q.Group,
		Consumer: consumer, MinIdle: 0, Messages: []string{e.ID}}).Err()
}

func (q *Queue) streamOf(e Entry) string {
	if e.Stream != "" {
		return e.Stream
	}
	return q.Streams[0]
}

// Done acknowledges entries and removes them from their streams, so
// handled payloads (sealed as they are) do not linger. One round trip (a
// node) for them all.
func (q *Queue) Done(ctx context.Context, es ...Entry) error {
	if len(es) == 0 {
		return nil
	}
	by := map[string][]string{}
	for _, e := range es {
		st := q.streamOf(e)
		by[st] = append(by[st], e.ID)
	}
	pipe := q.rdb.Pipeline()
	for st, ids := range by {
		pipe.XAck(ctx, st, q.Group, ids...)
		pipe.XDel(ctx, st, ids...)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Add appends a payload to one of the queue's streams (any: a consumer
// reads them all).
func (q *Queue) Add(ctx context.Context, payload []byte) (string, error) {
	st := q.Streams[rand.IntN(len(q.Streams))]
	return q.rdb.XAdd(ctx, &redis.XAddArgs{Stream: st, Values: []any{"p", payload}}).Result()
}

// Depth returns how many entries wait in the streams (pending or new).
func (q *Queue) Depth(ctx context.Context) (int64, error) {
	return depth(ctx, q.rdb, q.Streams)
}
