package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis at rawURL. With an empty URL it starts an
// in-process Redis-compatible server (miniredis) so Lifeline runs with no
// set-up; nothing survives a restart then, and the log says so. The
// returned close function stops both.
//
// Accepted forms: redis://[user:pass@]host:port[/db], rediss:// (TLS),
// redis-sentinel://[:pass@]host:port[,host:port]/master-name and
// redis-cluster://[:pass@]host:port[,host:port].
func Open(ctx context.Context, rawURL string, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if rawURL == "" {
		srv := miniredis.NewMiniRedis()
		if err := srv.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("start embedded redis: %w", err)
		}
		log.Warn("no REDIS_URL: using an embedded in-memory Redis; NOTHING SURVIVES A RESTART", "event", "embedded_redis")
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		return rdb, func() { rdb.Close(); srv.Close() }, nil
	}
	opts, err := universalOptions(rawURL)
	if err != nil {
		return nil, nil, err
	}
	var rdb redis.UniversalClient
	if opts.IsClusterMode {
		co := opts.Cluster()
		co.ClusterStateReloadInterval = ClusterReload
		rdb = redis.NewClusterClient(co)
	} else {
		rdb = redis.NewUniversalClient(opts)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("redis does not answer yet", "event", "redis_unreachable", "error", err)
	}
	return rdb, func() { rdb.Close() }, nil
}

// ClusterReload is how old the client's map of a cluster's slots may get
// before a command reloads it (CLUSTER SLOTS from one node, in the
// background). go-redis reloads it on a redirection (MOVED) and otherwise
// once a minute; a master that dies sends no redirection, so after its
// replica took over the client would go on dialling the dead node for up
// to a minute, and that master's people would wait as long. With this the
// promoted replica is found within about a second.
const ClusterReload = time.Second

func universalOptions(rawURL string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return &redis.UniversalOptions{
			Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, Protocol: o.Protocol,
		}, nil
	case "redis-sentinel", "redis-cluster":
		pass, _ := u.User.Password()
		o := &redis.UniversalOptions{Addrs: strings.Split(u.Host, ","), Password: pass, Username: u.User.Username()}
		if u.Scheme == "redis-sentinel" {
			o.MasterName = strings.Trim(u.Path, "/")
			if o.MasterName == "" {
				return nil, fmt.Errorf("REDIS_URL: a sentinel URL needs the master name as its path")
			}
		} else {
			// A cluster's blocking queue reads wait one a shard (no
			// command may name keys of several slots): room for them
			// beside the pool's usual size, on each node.
			o.IsClusterMode = true
			o.PoolSize = 10*runtime.GOMAXPROCS(0) + 8*Shards
		}
		return o, nil
	}
	return nil, fmt.Errorf("REDIS_URL: unknown scheme %q (use redis, rediss, redis-sentinel or redis-cluster)", u.Scheme)
}
