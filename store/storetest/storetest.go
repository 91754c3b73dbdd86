package storetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/store"
)

// Namespace returns a key prefix no other test uses, so tests can share one
// Redis server.
func Namespace() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

var (
	sharedOnce sync.Once
	sharedURL  string
	sharedErr  error
)

// Shared returns a client of the machine's Redis server. When none answers
// it starts a private redis-server for the whole test binary; with no
// redis-server installed the test fails with what to do. A
// redis-cluster:// REDIS_TEST_URL runs every test that uses it on that
// cluster instead.
func Shared(t testing.TB) redis.UniversalClient {
	t.Helper()
	sharedOnce.Do(func() {
		sharedURL = os.Getenv("REDIS_TEST_URL")
		if sharedURL == "" {
			sharedURL = "redis://127.0.0.1:6379/0"
		}
		if strings.HasPrefix(sharedURL, "redis-cluster://") || ping(sharedURL) == nil {
			return
		}
		srv, err := start(os.TempDir(), false)
		if err != nil {
			sharedErr = fmt.Errorf("no Redis at %s and cannot start one (%v): install redis-server or set REDIS_TEST_URL", sharedURL, err)
			return
		}
		sharedURL = srv.URL()
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	if addrs, ok := strings.CutPrefix(sharedURL, "redis-cluster://"); ok {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), PoolSize: 200})
		t.Cleanup(func() { c.Close() })
		return c
	}
	opts, err := redis.ParseURL(sharedURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// SharedURL is the URL of the server Shared connects to.
func SharedURL(t testing.TB) string {
	t.Helper()
	Shared(t)
	return sharedURL
}

func ping(url string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Embedded returns a client of a fresh miniredis.
func Embedded(t testing.TB) *redis.Client {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// Backends runs f against the embedded server, a real one and a real
// Redis Cluster, each store built with opts.
func Backends(t *testing.T, f func(t *testing.T, st *store.Store), opts ...store.Option) {
	t.Run("embedded", func(t *testing.T) { f(t, store.New(Embedded(t), Namespace(), opts...)) })
	t.Run("redis", func(t *testing.T) { f(t, store.New(Shared(t), Namespace(), opts...)) })
	t.Run("cluster", func(t *testing.T) { f(t, store.New(SharedCluster(t), Namespace(), opts...)) })
}

// Server is a private redis-server with append-only persistence, which a
// test may kill and restart on the same port and data directory.
type Server struct {
	dir   string
	port  int
	aof   bool
	extra []string // more redis-server arguments (a cluster node's)
	cmd   *exec.Cmd
}

// StartServer starts a private redis-server with AOF on (fsync always), and
// stops it when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir(), true)
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func start(dir string, aof bool) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{dir: dir, port: port, aof: aof}
	return s, s.Start()
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Dir is the server's data directory (its AOF and RDB files).
func (s *Server) Dir() string { return s.dir }

// Start starts (or restarts) the server and waits until it answers.
func (s *Server) Start() error {
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--daemonize", "no", "--logfile", filepath.Join(s.dir, "redis.log")}
	if s.aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.extra...)
	s.cmd = exec.Command("redis-server", args...)
	// The server dies with the test binary, even one killed.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.URL()) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on port %d did not answer", s.port)
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Stop is Kill for clean-up.
func (s *Server) Stop() { s.Kill() }

// Client returns a client of the server that is closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: 20, MinRetryBackoff: 20 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return c
}

// Entries returns every entry of streams (a sharded queue's), oldest
// first by id.
func Entries(t testing.TB, rdb redis.UniversalClient, streams []string) []redis.XMessage {
	t.Helper()
	var out []redis.XMessage
	for _, st := range streams {
		es, err := rdb.XRange(context.Background(), st, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, es...)
	}
	slices.SortFunc(out, func(a, b redis.XMessage) int { return compareIDs(a.ID, b.ID) })
	return out
}

// compareIDs orders stream ids ("<ms>-<seq>") by time, then sequence.
func compareIDs(a, b string) int {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	if c := cmp.Compare(x, y); c != 0 {
		return c
	}
	x, _ = strconv.ParseUint(as, 10, 64)
	y, _ = strconv.ParseUint(bs, 10, 64)
	return cmp.Compare(x, y)
}
