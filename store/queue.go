package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Queue is a Redis stream read through a consumer group: an entry stays
// pending until acknowledged, and entries a dead consumer held are claimed
// by another after MinIdle.
type Queue struct {
	rdb    redis.UniversalClient
	Stream string
	Group  string
	// fixed: the stream and its group are made once and may be deleted on
	// purpose (a broadcast's chunks); a lost group is not recreated then,
	// and reads find nothing.
	fixed bool
}

// Entry is one queued item.
type Entry struct {
	ID      string
	Payload []byte
	// Again is set on an entry delivered before: re-read from the
	// consumer's own pending entries or claimed from another consumer
	// (whose worker may have died holding a lock).
	Again bool
}

// Queue returns the queue on stream read by group.
func (s *Store) Queue(stream, group string) *Queue {
	return &Queue{rdb: s.rdb, Stream: stream, Group: group}
}

// QueueDepth returns how many entries wait in stream (pending or new).
func (s *Store) QueueDepth(ctx context.Context, stream string) (int64, error) {
	return s.rdb.XLen(ctx, stream).Result()
}

// Ensure creates the stream and group if they do not exist.
func (q *Queue) Ensure(ctx context.Context) error {
	err := q.rdb.XGroupCreateMkStream(ctx, q.Stream, q.Group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create group %s: %w", q.Stream, err)
	}
	return nil
}

// Read returns up to count new entries for consumer, waiting up to block.
func (q *Queue) Read(ctx context.Context, consumer string, count int, block time.Duration) ([]Entry, error) {
	return q.read(ctx, consumer, ">", count, block)
}

// Own returns up to count entries already delivered to consumer and not
// yet acknowledged, oldest first.
func (q *Queue) Own(ctx context.Context, consumer string, count int) ([]Entry, error) {
	return q.read(ctx, consumer, "0", count, -1)
}

// EachOwn passes every entry already delivered to consumer and not yet
// acknowledged to f, a page of at most count at a time: after a lost
// connection, a read Redis carried out may never have reached us.
func (q *Queue) EachOwn(ctx context.Context, consumer string, count int, f func([]Entry)) error {
	after := "0"
	for {
		es, err := q.read(ctx, consumer, after, count, -1)
		if err != nil || len(es) == 0 {
			return err
		}
		f(es)
		if len(es) < count {
			return nil
		}
		after = es[len(es)-1].ID
	}
}

func (q *Queue) read(ctx context.Context, consumer, start string, count int, block time.Duration) ([]Entry, error) {
	res, err := q.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: q.Group, Consumer: consumer, Streams: []string{q.Stream, start},
		Count: int64(count), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			// Redis lost the group (a restart without persistence):
			// recreate it and try again next time.
			return nil, q.lostGroup(ctx)
		}
		return nil, err
	}
	var out []Entry
	for _, st := range res {
		// Any start but ">" re-reads entries delivered before.
		out = append(out, entries(st.Messages, start != ">")...)
	}
	return out, nil
}

func entries(msgs []redis.XMessage, again bool) []Entry {
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		p, _ := m.Values["p"].(string)
		out = append(out, Entry{ID: m.ID, Payload: []byte(p), Again: again})
	}
	return out
}

// Claim takes over up to count entries that have been pending for longer
// than minIdle (their consumer died or stalled).
func (q *Queue) Claim(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]Entry, error) {
	msgs, _, err := q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: q.Stream, Group: q.Group, Consumer: consumer,
		MinIdle: minIdle, Start: "0", Count: int64(count),
	}).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return nil, q.lostGroup(ctx)
		}
		return nil, err
	}
	return entries(msgs, true), nil
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
func (q *Queue) Hold(ctx context.Context, consumer, id string) error {
	return q.rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: q.Stream, Group: q.Group,
		Consumer: consumer, MinIdle: 0, Messages: []string{id}}).Err()
}

// Done acknowledges entries and removes them from the stream, so handled
// payloads (sealed as they are) do not linger.
func (q *Queue) Done(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	pipe := q.rdb.Pipeline()
	pipe.XAck(ctx, q.Stream, q.Group, ids...)
	pipe.XDel(ctx, q.Stream, ids...)
	_, err := pipe.Exec(ctx)
	return err
}

// Add appends a payload.
func (q *Queue) Add(ctx context.Context, payload []byte) (string, error) {
	return q.rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.Stream, Values: []any{"p", payload}}).Result()
}

// Depth returns how many entries wait in the stream (pending or new).
func (q *Queue) Depth(ctx context.Context) (int64, error) {
	return q.rdb.XLen(ctx, q.Stream).Result()
}
