package loadtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// kitT lets the test kits (telegramtest, smstest, storetest), which take a
// testing.TB, run outside `go test`, in `lifeline loadtest -chaos`. It
// keeps their clean-ups, records their errors and turns a Fatal into a
// panic that Chaos recovers. The kits call only the methods below; any
// other would reach the nil testing.TB and panic (TestKitT covers them).
type kitT struct {
	testing.TB

	log      io.Writer
	mu       sync.Mutex
	cleanups []func()
	errs     []string
	dirs     []string
}

// kitFatal is the panic of kitT.Fatal.
type kitFatal struct{ msg string }

func newKitT(log io.Writer) *kitT { return &kitT{log: log} }

func (k *kitT) Helper()      {}
func (k *kitT) Name() string { return "lifeline-loadtest-chaos" }

func (k *kitT) Cleanup(f func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cleanups = append(k.cleanups, f)
}

func (k *kitT) Errorf(format string, args ...any) { k.Error(fmt.Sprintf(format, args...)) }

func (k *kitT) Error(args ...any) {
	msg := fmt.Sprint(args...)
	k.mu.Lock()
	k.errs = append(k.errs, msg)
	k.mu.Unlock()
	fmt.Fprintln(k.log, "chaos: fake platform:", msg)
}

func (k *kitT) Fatalf(format string, args ...any) { k.Fatal(fmt.Sprintf(format, args...)) }

func (k *kitT) Fatal(args ...any) {
	k.Error(args...)
	panic(kitFatal{fmt.Sprint(args...)})
}

func (k *kitT) Fail()    { k.Error("failed") }
func (k *kitT) FailNow() { k.Fatal("failed") }

func (k *kitT) Failed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.errs) > 0
}

func (k *kitT) Log(args ...any)                 { fmt.Fprintln(k.log, args...) }
func (k *kitT) Logf(format string, args ...any) { fmt.Fprintf(k.log, format+"\n", args...) }

func (k *kitT) Context() context.Context { return context.Background() }

// TempDir makes a directory that the clean-up removes.
func (k *kitT) TempDir() string {
	dir, err := os.MkdirTemp("", "lifeline-chaos-")
	if err != nil {
		k.Fatal(err)
	}
	k.mu.Lock()
	k.dirs = append(k.dirs, dir)
	k.mu.Unlock()
	return dir
}

// finish runs the clean-ups, newest first, and removes the directories.
func (k *kitT) finish() {
	k.mu.Lock()
	fs := k.cleanups
	k.cleanups = nil
	k.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	k.mu.Lock()
	dirs := k.dirs
	k.dirs = nil
	k.mu.Unlock()
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

// errors returns what the kits reported.
func (k *kitT) errors() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.errs...)
}
