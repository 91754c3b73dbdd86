package main

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxHeaderBytes caps a request's headers; Telegram's and Twilio's are
// well under 4 KiB.
const maxHeaderBytes = 32 << 10

// headerTimeout is the longest a client may take to send its headers.
const headerTimeout = 10 * time.Second

// newHTTPServer is the server for the webhooks, health, metrics and the
// staff API, with every timeout set so that a slow client is cut off:
// headers within 10 s (or HTTP_READ_TIMEOUT if shorter), the whole request
// within HTTP_READ_TIMEOUT, the answer written within HTTP_WRITE_TIMEOUT of
// the headers, and an idle kept-alive connection closed after
// HTTP_IDLE_TIMEOUT. Each route caps its own body (bot/telegram, bot/sms,
// bot.DecodeJSON).
func newHTTPServer(cfg *Config, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(headerTimeout, cfg.HTTPReadTimeout),
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// connLimit wraps a listener so that at most total connections are open at
// once, and at most perIP from one address. A connection over either cap is
// closed as soon as it is accepted, before anything is read from it, so
// the slots and goroutines a flood can hold are bounded; with the server's
// timeouts, each slot comes back within seconds. Telegram and Twilio open
// many connections from a few addresses (and behind a proxy every
// connection comes from the proxy), so perIP stays well above their
// concurrency.
type connLimit struct {
	net.Listener
	total, perIP int
	log          *slog.Logger

	mu   sync.Mutex
	open int
	byIP map[string]int

	refused  atomic.Int64 // since the last log line
	lastLog  atomic.Int64 // unix nanoseconds
	logEvery time.Duration
}

func limitConns(ln net.Listener, total, perIP int, log *slog.Logger) *connLimit {
	return &connLimit{Listener: ln, total: total, perIP: perIP, log: log, byIP: map[string]int{}, logEvery: 10 * time.Second}
}

// Accept returns the next connection within the caps, closing those over
// them.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		if reason := l.take(ip); reason != "" {
			_ = c.Close()
			l.noteRefused(reason)
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.give(ip) }}, nil
	}
}

// take counts a connection from ip in, or says which cap it is over.
func (l *connLimit) take(ip string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.total:
		return "total"
	case l.byIP[ip] >= l.perIP:
		return "per_ip"
	}
	l.open++
	l.byIP[ip]++
	return ""
}

func (l *connLimit) give(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// Open reports the connections open now.
func (l *connLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// noteRefused logs refusals at most once per logEvery, with how many there
// were, so that a flood does not flood the log. No address is logged.
func (l *connLimit) noteRefused(reason string) {
	l.refused.Add(1)
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(l.logEvery) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	n := l.refused.Swap(0)
	l.log.Warn("connections refused: too many open", "event", "connections_refused", "cap", reason, "refused", n)
}

func remoteIP(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn gives its slot back once, when it is closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
