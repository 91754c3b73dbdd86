package loadtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// peers is the simulated platform shared by the loadtest processes of one
// run: a process that sends a reply to another process's person tells that
// process through its Unix datagram socket (no Redis traffic, so the
// figures stay the runtime's own).
type peers struct {
	ns    string
	self  int
	conn  *net.UnixConn
	path  string
	mu    sync.Mutex
	out   map[int]*net.UnixConn
	errs  int
	onMsg func(idx int32, at int64, v view)
}

func socketPath(ns string, i int) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("lifeline-loadtest-%s-%d.sock", ns, i))
}

func listenPeers(ns string, self int, onMsg func(idx int32, at int64, v view), intern func(string) string) (*peers, error) {
	path := socketPath(ns, self)
	_ = os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("peer socket: %w", err)
	}
	p := &peers{ns: ns, self: self, conn: conn, path: path, out: map[int]*net.UnixConn{}, onMsg: onMsg}
	go p.read(intern)
	return p, nil
}

func (p *peers) read(intern func(string) string) {
	buf := make([]byte, 2048)
	for {
		n, _, err := p.conn.ReadFromUnix(buf)
		if err != nil {
			return // closed
		}
		f := strings.Fields(string(buf[:n]))
		if len(f) < 3 {
			continue
		}
		idx, err1 := strconv.ParseInt(f[0], 10, 32)
		at, err2 := strconv.ParseInt(f[1], 10, 64)
		prompt, err3 := strconv.ParseInt(f[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		v := view{prompt: int32(prompt)}
		for _, id := range f[3:min(len(f), 3+maxOpts)] {
			v.ids[v.n] = intern(id)
			v.n++
		}
		p.onMsg(int32(idx), at, v)
	}
}

// notify tells process to that its person idx's reply went out at (unix
// ns) offering v. Datagrams on a Unix socket are not lost: a full receiver
// makes the write wait.
func (p *peers) notify(to int, idx int32, at int64, v view) {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d %d", idx, at, v.prompt)
	for _, id := range v.ids[:v.n] {
		b.WriteByte(' ')
		b.WriteString(id)
	}
	c, err := p.dial(to)
	if err == nil {
		_, err = c.Write([]byte(b.String()))
	}
	if err != nil {
		p.mu.Lock()
		p.errs++
		if c != nil && p.out[to] == c {
			c.Close()
			delete(p.out, to)
		}
		p.mu.Unlock()
	}
}

func (p *peers) dial(to int) (*net.UnixConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.out[to]; c != nil {
		return c, nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socketPath(p.ns, to), Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	p.out[to] = c
	return c, nil
}

func (p *peers) errors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs
}

func (p *peers) close() {
	p.conn.Close()
	_ = os.Remove(p.path)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.out {
		c.Close()
	}
}
