package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Jobs are the broadcast service's job offers: "job:<id>" (a hash whose
// field j is the job as the service encodes it; it expires a while after
// the job), the sorted set "jobs" of ids by posting time, and
// "job:<id>:interested", the set of people who asked about it.

func (s *Store) jobKey(id string) string      { return s.Key("job", id) }
func (s *Store) jobsKey() string              { return s.Key("jobs") }
func (s *Store) interestKey(id string) string { return s.Key("job", id, "interested") }

// AddJob stores a job under id unless one has it; it reports whether it
// did.
func (s *Store) AddJob(ctx context.Context, id string, job []byte) (bool, error) {
	ok, err := s.rdb.HSetNX(ctx, s.jobKey(id), "j", string(job)).Result()
	if err != nil {
		return false, fmt.Errorf("add job: %w", err)
	}
	return ok, nil
}

// ListJob indexes an added job as posted at posted, and lets it expire at
// expire.
func (s *Store) ListJob(ctx context.Context, id string, posted, expire time.Time) error {
	pipe := s.rdb.Pipeline()
	pipe.ExpireAt(ctx, s.jobKey(id), expire)
	pipe.ZAdd(ctx, s.jobsKey(), redis.Z{Score: float64(posted.UnixMilli()), Member: id})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("list job: %w", err)
	}
	return nil
}

// Job returns a job as AddJob stored it, or nil when there is none.
func (s *Store) Job(ctx context.Context, id string) ([]byte, error) {
	raw, err := s.rdb.HGet(ctx, s.jobKey(id), "j").Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	return []byte(raw), nil
}

// LatestJobs returns the ids of up to limit jobs, newest first.
func (s *Store) LatestJobs(ctx context.Context, limit int) ([]string, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.jobsKey(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return ids, nil
}

// JobsSince returns the ids of the jobs posted since since, newest first.
func (s *Store) JobsSince(ctx context.Context, since time.Time) ([]string, error) {
	ids, err := s.rdb.ZRevRangeByScore(ctx, s.jobsKey(), &redis.ZRangeBy{
		Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return ids, nil
}

// CountJobsSince returns how many jobs were posted since since.
func (s *Store) CountJobsSince(ctx context.Context, since time.Time) (int64, error) {
	n, err := s.rdb.ZCount(ctx, s.jobsKey(), strconv.FormatInt(since.UnixMilli(), 10), "+inf").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}

// UnlistJob drops an id from the index (its job expired away).
func (s *Store) UnlistJob(ctx context.Context, id string) error {
	if err := s.rdb.ZRem(ctx, s.jobsKey(), id).Err(); err != nil {
		return fmt.Errorf("unlist job: %w", err)
	}
	return nil
}

// DeleteJob deletes a job and its place in the index; it reports whether
// there was one.
func (s *Store) DeleteJob(ctx context.Context, id string) (bool, error) {
	pipe := s.rdb.Pipeline()
	del := pipe.Del(ctx, s.jobKey(id))
	pipe.ZRem(ctx, s.jobsKey(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("delete job: %w", err)
	}
	return del.Val() > 0, nil
}

// AddJobInterest records that person asked about job id, kept until
// expire; it reports false when they had already.
func (s *Store) AddJobInterest(ctx context.Context, id, person string, expire time.Time) (bool, error) {
	pipe := s.rdb.TxPipeline()
	added := pipe.SAdd(ctx, s.interestKey(id), person)
	pipe.ExpireAt(ctx, s.interestKey(id), expire)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("record job interest: %w", err)
	}
	return added.Val() == 1, nil
}

// JobInterest counts the people who asked about job id (each one opened a
// case for a coach).
func (s *Store) JobInterest(ctx context.Context, id string) (int64, error) {
	n, err := s.rdb.SCard(ctx, s.interestKey(id)).Result()
	if err != nil {
		return 0, fmt.Errorf("count job interest: %w", err)
	}
	return n, nil
}
