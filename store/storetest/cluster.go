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
)

// Cluster is a private Redis Cluster of real redis-server processes on
// free ports: masters, each with replicas, joined by redis-cli --cluster
// create. A node killed (KillMaster) is failed over to its replica, as in
// production.
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
		s := &Server{dir: d, port: port, aof: true, extra: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--appendfsync", "everysec"}}
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

// Client returns a cluster client that is closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// WaitOK waits until every live node says the cluster is ok and every
// slot is served.
func (c *Cluster) WaitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, n := range c.Nodes {
			if n.cmd == nil {
				continue
			}
			info, err := n.info("cluster", "info")
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ok after %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MasterOf returns the node that serves key's slot now.
func (c *Cluster) MasterOf(key string) (*Server, error) {
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		role, err := n.info("role")
		if err != nil || !strings.HasPrefix(role, "master") {
			continue
		}
		// A master answers for its own slots; others redirect (MOVED).
		out, err := n.info("exists", key)
		if err == nil && !strings.Contains(out, "MOVED") {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no live master serves %q", key)
}

// KillMaster kills the master serving key's slot (SIGKILL) and waits for
// its replica to take over; it returns the killed node, which Start brings
// back (as a replica).
func (c *Cluster) KillMaster(key string) (*Server, error) {
	m, err := c.MasterOf(key)
	if err != nil {
		return nil, err
	}
	m.Kill()
	return m, c.WaitOK(30 * time.Second)
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// info runs a command on the node alone with redis-cli and returns its
// output.
func (s *Server) info(args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-p", fmt.Sprint(s.port)}, args...)...).CombinedOutput()
	return string(out), err
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
