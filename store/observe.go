package store

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"
)

// OnError calls failed for every Redis command or pipeline of the store's
// client that fails (an empty reply is no failure), and every connection
// that cannot be made: the metrics count them.
func (s *Store) OnError(failed func()) { s.rdb.AddHook(errorHook{failed}) }

type errorHook struct{ failed func() }

func (h errorHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.failed()
		}
		return c, err
	}
}

func (h errorHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && !errors.Is(err, redis.Nil) {
			h.failed()
		}
		return err
	}
}

func (h errorHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil && !errors.Is(err, redis.Nil) {
			h.failed()
		}
		return err
	}
}
