package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// botProc is one slot of `lifeline serve`: a child process the run starts,
// kills with SIGKILL and starts again with the same address, environment
// and log file, as a machine's supervisor would.
type botProc struct {
	name    string
	addr    string
	env     []string
	logPath string
	command func(env []string) *exec.Cmd

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	killing bool // the run is killing or stopping it
	exits   []string
	onExit  func(p *botProc, state string) // an exit the run did not cause
}

// freeAddr returns a 127.0.0.1 address nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start starts the process (again); it does not wait for it to be healthy.
func (p *botProc) start() error {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== chaos: %s starting at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := p.command(append([]string{"LISTEN_ADDR=" + p.addr}, p.env...))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.killing = cmd, done, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		state := "exit 0"
		if err != nil {
			state = err.Error()
		}
		p.mu.Lock()
		expected := p.killing
		if !expected {
			p.exits = append(p.exits, state)
		}
		p.mu.Unlock()
		close(done)
		if !expected && p.onExit != nil {
			p.onExit(p, state)
		}
	}()
	return nil
}

// signal sends sig and waits (up to wait) for the process to end.
func (p *botProc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.killing = true
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// kill ends the process with SIGKILL: no shutdown, no hand-back.
func (p *botProc) kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// stop ends the process with SIGTERM, then SIGKILL after 15 s.
func (p *botProc) stop() {
	if !p.signal(syscall.SIGTERM, 15*time.Second) {
		p.kill()
	}
}

// waitOK polls path (/healthz, /readyz) every poll until it answers 200,
// and returns when it did.
func (p *botProc) waitOK(ctx context.Context, path string, within, poll time.Duration) (time.Time, error) {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: %s did not answer 200 within %s (log: %s)", p.name, path, within, p.logPath)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// logLines returns the lines of the process's log that contain any of
// words, at most max of them (the last ones).
func (p *botProc) logLines(max int, words ...string) []string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// LifelineCommand returns the Command that runs `lifeline serve` from the
// executable at path, with env on top of a bare environment (PATH, HOME
// and TMPDIR only).
func LifelineCommand(path string, extraEnv ...string) func(env []string) *exec.Cmd {
	return func(env []string) *exec.Cmd {
		cmd := exec.Command(path, "serve")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
		cmd.Env = append(cmd.Env, extraEnv...)
		cmd.Env = append(cmd.Env, env...)
		return cmd
	}
}

// logDir makes the directory for the processes' logs.
func logDir(dir string) (string, error) {
	if dir != "" {
		return dir, os.MkdirAll(dir, 0o700)
	}
	d, err := os.MkdirTemp("", "lifeline-chaos-logs-")
	if err != nil {
		return "", err
	}
	return d, nil
}

func procLogPath(dir, name string) string {
	return filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".log")
}

var errStopped = errors.New("chaos run stopped")
