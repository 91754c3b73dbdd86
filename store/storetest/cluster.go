package storetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-org/lifeline/store"
)

// Cluster is a private Redis Cluster of real redis-server processes on
// free ports: masters, each with replicas, joined by redis-cli --cluster
// create. A master killed (KillMaster) is failed over to its replica, as
// in production, and Rejoin brings it back as a replica.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts a cluster of masters (each with replicas replicas),
// waits until every slot is served, and stops it when the test ends.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	c, err := startCluster(t.TempDir(), masters, replicas)
	if c != nil {
		t.Cleanup(c.Stop)
	}
	if err != nil {
		t.Fatalf("start redis cluster: %v", err)
	}
	return c
}

var (
	clusterOnce sync.Once
	clusterURL  string
	clusterErr  error
)

// SharedClusterURL returns the redis-cluster:// URL of a cluster for the
// whole test binary: REDIS_CLUSTER_TEST_URL when set (CI starts one), or
// else a private 3-master cluster this binary starts (and its end stops).
func SharedClusterURL(t testing.TB) string {
	t.Helper()
	clusterOnce.Do(func() {
		if clusterURL = os.Getenv("REDIS_CLUSTER_TEST_URL"); clusterURL != "" {
			return
		}
		dir, err := os.MkdirTemp("", "lifeline-cluster-")
		if err != nil {
			clusterErr = err
			return
		}
		c, err := startCluster(dir, 3, 0)
		if err != nil {
			clusterErr = err
			return
		}
		clusterURL = c.URL()
	})
	if clusterErr != nil {
		t.Fatalf("no Redis Cluster (%v): install redis-server and redis-cli, or set REDIS_CLUSTER_TEST_URL", clusterErr)
	}
	return clusterURL
}

// SharedCluster returns a client of the shared cluster.
func SharedCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	u := SharedClusterURL(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(strings.TrimPrefix(u, "redis-cluster://"), ",")})
	t.Cleanup(func() { c.Close() })
	return c
}

func startCluster(dir string, masters, replicas int) (*Cluster, error) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return nil, err
	}
	c := &Cluster{}
	for i := range masters * (1 + replicas) {
		d := filepath.Join(dir, fmt.Sprint("node", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return c, err
		}
		port, err := clusterPort()
		if err != nil {
			return c, err
		}
		// A replica's full sync starts at once (not after the 5 s a
		// diskless sync waits by default for more replicas).
		s := &Server{dir: d, port: port, aof: true, extra: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--appendfsync", "everysec", "--repl-diskless-sync-delay", "0"}}
		c.Nodes = append(c.Nodes, s)
		if err := s.Start(); err != nil {
			return c, err
		}
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	return c, c.WaitOK(30 * time.Second)
}

// URL is the cluster's redis-cluster:// URL.
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// Client returns a cluster client that is closed when the test ends. As
// Lifeline's (store.Open), it reloads the slots' owners when its map is
// older than store.ClusterReload, so it finds a promoted replica.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: store.ClusterReload})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// WaitOK waits until every live node says the cluster is ok and every
// slot is served, and every live replica's link to its master is up (a
// replica still in its first sync could not take over).
func (c *Cluster) WaitOK(timeout time.Duration) error {
	return waitFor(timeout, "cluster ok and every replica in sync", c.ok)
}

func (c *Cluster) ok() bool {
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		info, err := n.info("cluster", "info")
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return false
		}
		if role, _ := n.role(); len(role) > 0 && role[0] == "slave" && (len(role) < 4 || role[3] != "connected") {
			return false
		}
	}
	return true
}

// waitFor polls cond every 50 ms until it holds, for at most timeout.
func waitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not %s after %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// MasterOf returns the node that serves key's slot now: a live master that
// answers for the key itself and that every live node that redirects
// (MOVED) names. A node just restarted on an old configuration may still
// think it serves the slot; while the others disagree there is no answer.
func (c *Cluster) MasterOf(key string) (*Server, error) {
	var owner *Server
	var redirects []string
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		out, err := n.info("exists", key)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", n.Addr(), err)
		}
		f := strings.Fields(out)
		if len(f) == 3 && f[0] == "MOVED" {
			redirects = append(redirects, f[2])
			continue
		}
		// Anything but a count (CLUSTERDOWN, LOADING) serves nothing now.
		if len(f) != 1 || f[0] != "0" && f[0] != "1" {
			continue
		}
		if role, _ := n.role(); len(role) == 0 || role[0] != "master" {
			continue
		}
		if owner != nil {
			return nil, fmt.Errorf("both %s and %s serve %q", owner.Addr(), n.Addr(), key)
		}
		owner = n
	}
	if owner == nil {
		return nil, fmt.Errorf("no live master serves %q", key)
	}
	for _, r := range redirects {
		if r != owner.Addr() {
			return nil, fmt.Errorf("%s serves %q but a node redirects to %s", owner.Addr(), key, r)
		}
	}
	return owner, nil
}

// KillMaster kills the master serving key's slot (SIGKILL), waits until
// its replica has taken over (the cluster's nodes take the master for
// failed after the node timeout, then a replica is elected) and the
// cluster is ok again, and returns the killed node: Rejoin brings it back
// as a replica.
func (c *Cluster) KillMaster(key string) (*Server, error) {
	m, err := c.MasterOf(key)
	if err != nil {
		return nil, err
	}
	m.Kill()
	return m, waitFor(30*time.Second, "failed over", func() bool {
		now, err := c.MasterOf(key)
		return err == nil && now != m && c.ok()
	})
}

// Rejoin starts a killed node again and waits until it is a replica in
// sync and the cluster is ok: a killed master comes back as a replica of
// the one promoted in its place.
func (c *Cluster) Rejoin(s *Server) error {
	if err := s.Start(); err != nil {
		return err
	}
	return waitFor(30*time.Second, s.Addr()+" a replica in sync", func() bool {
		role, _ := s.role()
		return len(role) >= 4 && role[0] == "slave" && role[3] == "connected" && c.ok()
	})
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// info runs a command on the node alone with redis-cli (not following
// redirections: a MOVED is printed) and returns its output.
func (s *Server) info(args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-p", fmt.Sprint(s.port)}, args...)...).CombinedOutput()
	return string(out), err
}

// role is ROLE's answer a line each: "master", …; or "slave", the
// master's host and port, the link's state ("connected" once in sync), …
func (s *Server) role() ([]string, error) {
	out, err := s.info("role")
	return strings.Fields(out), err
}

// clusterPort picks a free port whose cluster bus port (10000 above it) is
// free too and valid.
func clusterPort() (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(25000)
		a, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port pair for a cluster node")
}
