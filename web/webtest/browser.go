// Package webtest drives the console in a real browser for tests: headless
// Chromium through chromedp, with every script error, console error and
// Content-Security-Policy violation collected, and a screenshot saved when
// a test fails.
//
// Imports: nothing from Lifeline.
package webtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium with its own profile.
type Browser struct {
	t     testing.TB
	alloc context.Context
	// Ctx is the browser's first tab.
	Ctx context.Context

	mu       sync.Mutex
	problems []string
}

// chromium finds the browser: $CHROMIUM, Debian's chromium, or Chrome.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start starts a browser for the test and stops it at the end. Without
// Chromium the test is skipped, unless CI is set (.ci/run installs it).
func Start(t testing.TB) *Browser {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium: install Debian's chromium package (.ci/run does)")
		}
		t.Skip("no Chromium here (apt-get install chromium); browser tests skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	b := &Browser{t: t, alloc: alloc, Ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	b.watch(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			b.Shot("failure")
		}
		cancel()
		cancelAlloc()
	})
	return b
}

// watch collects the tab's script exceptions, console errors and the
// browser's own error log (CSP violations are logged there).
func (b *Browser) watch(ctx context.Context) {
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		b.t.Fatalf("enable the browser log: %v", err)
	}
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			b.problem(fmt.Sprintf("script exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ConsoleAPICalled) {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.problem("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, cdplog.EntryAdded) {
			if err != nil {
				return
			}
			e := ev.Entry
			// A page answering 403 or 404 on purpose is logged as a
			// network error: the tests check statuses themselves.
			if e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
				b.problem(fmt.Sprintf("browser log (%s): %s %s", e.Source, e.Text, e.URL))
			}
		}
	}()
}

func (b *Browser) problem(p string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, p)
}

// Problems returns the script errors, console errors and CSP violations
// seen so far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Shot saves a screenshot of the tab and logs where: beside the test
// binary's temporary files, kept after the test (LIFELINE_SCREENSHOTS
// names another folder).
func (b *Browser) Shot(name string) string {
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no screenshot: %v", err)
		return ""
	}
	dir := os.Getenv("LIFELINE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "lifeline-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("no screenshot: %v", err)
		return ""
	}
	safe := strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name() + "-" + name)
	path := filepath.Join(dir, safe+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Logf("no screenshot: %v", err)
		return ""
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// Do runs actions in the tab, failing the test (with a screenshot) on an
// error; what says what was being done.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Text returns the text of the first element matching the CSS selector.
func (b *Browser) Text(css string) string {
	b.t.Helper()
	return run(b, "read "+css, chromedp.Text(chromedp.CSS(css)))
}

// Value returns the value of the first input matching the CSS selector.
func (b *Browser) Value(css string) string {
	b.t.Helper()
	return run(b, "read "+css, chromedp.Value(chromedp.CSS(css)))
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	return run(b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// run runs one action that returns a value, failing the test on an error.
func run[T any](b *Browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// WaitTrue waits up to within until the expression is true in the page.
func (b *Browser) WaitTrue(what, expr string, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not true within %v: %s (%v)", what, within, expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Open navigates the tab and returns the page's HTTP status.
func (b *Browser) Open(url string) int64 {
	b.t.Helper()
	return run(b, "open "+url, chromedp.NavigateResponse(url)).Status
}

// Submit clicks the element (a submit button) and waits for the page it
// leads to, returning its HTTP status.
func (b *Browser) Submit(css string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("submit %s: %v", css, err)
	}
	return resp.Status
}
