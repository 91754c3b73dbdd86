package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-org/lifeline/bot/bottest"
	"github.com/lifeline-org/lifeline/bot/sms/smstest"
	"github.com/lifeline-org/lifeline/store/storetest"
)

// TestSlowClientsCannotTieUpTheServer opens 200 connections to a real
// `lifeline serve`, each sending a Twilio webhook's headers (with a
// signature that will not match) and then its body at 1 byte a second.
// Each is cut off once HTTP_READ_TIMEOUT (3 s here, 15 s by default) has
// passed, and a correctly signed text sent while all 200 are open is
// answered 2xx within 2 s.
func TestSlowClientsCannotTieUpTheServer(t *testing.T) {
	const (
		slow        = 200
		readTimeout = 3 * time.Second
		// Cut off by the timeout, the answer written, the connection
		// closed: well within this, or the test fails.
		closedWithin = readTimeout + 3*time.Second
	)
	twilio := smstest.NewServer(t)
	srv := storetest.StartServer(t)
	addr := freeAddr(t)
	public := "http://" + addr
	const token = "twiliotoken123"
	logs := lifeline(t, map[string]string{
		"TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN": token,
		"TWILIO_FROM": "+15005550006", "TWILIO_API_URL": twilio.URL, "TWILIO_MPS": "100",
		"PUBLIC_URL": public, "LISTEN_ADDR": addr, "REDIS_URL": srv.URL(), "LIFELINE_DATA_KEY": testKey,
		"HTTP_READ_TIMEOUT": readTimeout.String(),
	})
	waitFor(t, "lifeline listening", func() bool { return strings.Contains(logs.String(), "event=listening") })

	type outcome struct {
		closed time.Time // zero: still open at the end
		status string    // the answer's status line, if one came
		err    error
	}
	results := make([]outcome, slow)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	head := "POST /sms/inbound HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl\r\nContent-Length: 1000\r\n\r\n"
	start := time.Now()
	for i := range slow {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("connection %d: %v", i, err)
		}
		if _, err := io.WriteString(c, head+"M"); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		wg.Add(2)
		gone := make(chan struct{})
		go func() { // the trickle: 1 byte a second, until the server hangs up
			defer wg.Done()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-gone:
					return
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}
		}()
		go func() { // the reader: notes when the server closes the connection
			defer wg.Done()
			defer close(gone)
			defer c.Close()
			_ = c.SetReadDeadline(start.Add(closedWithin + time.Second))
			br := bufio.NewReader(c)
			line, err := br.ReadString('\n')
			results[i].status = strings.TrimSpace(line)
			if err == nil {
				_, err = io.Copy(io.Discard, br)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				results[i].err = err
				return
			}
			results[i].closed = time.Now()
		}()
	}
	opened := time.Since(start)

	// A real text, while all 200 are open.
	form := url.Values{"MessageSid": {fmt.Sprintf("SM%032d", 1)}, "From": {"+447700900123"}, "To": {"+15005550006"}, "Body": {"Hi"}}
	req, _ := http.NewRequest(http.MethodPost, public+"/sms/inbound", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", smstest.Sign(token, public+"/sms/inbound", form))
	sent := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	took := time.Since(sent)
	answered := time.Now()
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("the signed text, sent while %d slow connections were open: %v", slow, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || took > 2*time.Second {
		t.Errorf("the signed text, sent while %d slow connections were open: %s after %v; want 2xx within 2 s", slow, resp.Status, took)
	}
	wg.Wait()

	stillOpen, early := 0, 0
	var longest time.Duration
	for i, r := range results {
		switch {
		case r.closed.IsZero():
			stillOpen++
			if stillOpen <= 3 {
				t.Errorf("slow connection %d still open %v after it opened (%v)", i, closedWithin, r.err)
			}
		case r.closed.Before(answered):
			early++
		default:
			longest = max(longest, r.closed.Sub(start))
		}
	}
	if stillOpen > 0 {
		t.Errorf("%d of %d slow connections still open after %v; want each closed within %v of the read timeout", stillOpen, slow, closedWithin, closedWithin-readTimeout)
	}
	if early > 0 {
		// They must all have been open when the text came, or the test
		// proves nothing.
		t.Errorf("%d of %d slow connections closed before the signed text was answered", early, slow)
	}
	if longest > closedWithin {
		t.Errorf("the last slow connection closed %v after the first opened; want within %v", longest, closedWithin)
	}
	t.Logf("%d slow connections opened in %v; signed text answered %s in %v; the last slow one closed after %v (first status %q)",
		slow, opened, resp.Status, took, longest, results[0].status)

	// Headers over the cap are refused without reaching a handler.
	big, _ := http.NewRequest(http.MethodPost, public+"/sms/inbound", strings.NewReader("x=1"))
	big.Header.Set("X-Filler", strings.Repeat("a", 2*maxHeaderBytes))
	resp, err = (&http.Client{Timeout: 5 * time.Second}).Do(big)
	if err != nil {
		t.Fatalf("a request with %d KiB of headers: %v", 2*maxHeaderBytes>>10, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a request with %d KiB of headers: %s; want 431", 2*maxHeaderBytes>>10, resp.Status)
	}
}

// TestHTTPServerDefaults: with nothing set, every limit is on and a slow
// client is cut off well within 30 s.
func TestHTTPServerDefaults(t *testing.T) {
	cfg, err := LoadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s := newHTTPServer(cfg, http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadHeaderTimeout > 10*time.Second || s.ReadTimeout <= 0 || s.ReadTimeout > 30*time.Second ||
		s.WriteTimeout <= 0 || s.WriteTimeout > 30*time.Second || s.IdleTimeout <= 0 || s.IdleTimeout > 30*time.Second ||
		s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes > 64<<10 {
		t.Errorf("server limits: header %v, read %v, write %v, idle %v, header bytes %d",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
	if cfg.HTTPMaxConns < 1 || cfg.HTTPMaxConnsPerIP < 1 || cfg.HTTPMaxConnsPerIP > cfg.HTTPMaxConns {
		t.Errorf("connection caps: %d in total, %d per address", cfg.HTTPMaxConns, cfg.HTTPMaxConnsPerIP)
	}
	for _, env := range []map[string]string{{"HTTP_READ_TIMEOUT": "0s"}, {"HTTP_IDLE_TIMEOUT": "soon"}, {"HTTP_MAX_CONNS": "0"}, {"HTTP_MAX_CONNS_PER_IP": "-1"}} {
		if _, err := LoadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	// A short read timeout shortens the header timeout too.
	cfg.HTTPReadTimeout = 2 * time.Second
	if s := newHTTPServer(cfg, http.NotFoundHandler()); s.ReadHeaderTimeout != 2*time.Second {
		t.Errorf("header timeout %v with a 2 s read timeout", s.ReadHeaderTimeout)
	}
}

// TestConnLimit: connections over the cap per address, or over the cap in
// total, are closed on arrival; a closed connection gives its slot back;
// refusals are logged without the address, not once per connection.
func TestConnLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &bottest.Buffer{}
	ln := limitConns(inner, 4, 2, slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// dial connects from ip and reports whether the listener kept the
	// connection (and returns the server's end) or closed it.
	dial := func(ip string) (net.Conn, bool) {
		t.Helper()
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Skipf("cannot connect from %s: %v", ip, err)
		}
		t.Cleanup(func() { c.Close() })
		closed := make(chan struct{})
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, err := c.Read(make([]byte, 1))
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				close(closed)
			}
		}()
		select {
		case s := <-accepted:
			return s, true
		case <-closed:
			return nil, false
		case <-time.After(3 * time.Second):
			t.Fatalf("a connection from %s neither accepted nor closed", ip)
			return nil, false
		}
	}
	a1, ok1 := dial("127.0.0.1")
	_, ok2 := dial("127.0.0.1")
	_, ok3 := dial("127.0.0.1")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("three from one address: kept %v %v %v; want the third closed (2 per address)", ok1, ok2, ok3)
	}
	_, ok4 := dial("127.0.0.2")
	_, ok5 := dial("127.0.0.2")
	_, ok6 := dial("127.0.0.3")
	if !ok4 || !ok5 || ok6 {
		t.Fatalf("with 4 open: kept %v %v, then %v from a new address; want it closed (4 in all)", ok4, ok5, ok6)
	}
	if n := ln.Open(); n != 4 {
		t.Errorf("%d open, want 4", n)
	}
	a1.Close()
	a1.Close() // closing twice gives one slot back
	if n := ln.Open(); n != 3 {
		t.Errorf("%d open after one closed, want 3", n)
	}
	if _, ok := dial("127.0.0.1"); !ok {
		t.Error("an address under its cap again refused after a slot came back")
	}
	if _, ok := dial("127.0.0.3"); ok {
		t.Error("a fifth connection kept")
	}
	if got := strings.Count(logs.String(), "event=connections_refused"); got != 1 {
		t.Errorf("%d connections_refused lines for 3 refusals within 10 s, want 1:\n%s", got, logs)
	}
	if strings.Contains(logs.String(), "127.0.0.") {
		t.Errorf("the log names an address:\n%s", logs)
	}
}
