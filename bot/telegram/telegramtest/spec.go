package telegramtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
)

// SpecFile is the list of Bot API 9.4 methods and their parameters,
// {"method": ["param", ...]}, extracted from the published spec by
// TestSpecMethods in package telegram (go test -update regenerates it).
const SpecFile = "botapi-9.4-methods.json"

var spec struct {
	once    sync.Once
	methods map[string][]string
	err     error
}

// SpecPath returns where SpecFile is in the source tree
// (bot/telegram/testdata).
func SpecPath() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", SpecFile)
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", SpecFile)
}

// SpecMethods returns the Bot API methods and their parameters.
func SpecMethods() (map[string][]string, error) {
	spec.once.Do(func() {
		b, err := os.ReadFile(SpecPath())
		if err != nil {
			spec.err = fmt.Errorf("read Bot API method list: %w", err)
			return
		}
		if err := json.Unmarshal(b, &spec.methods); err != nil {
			spec.err = fmt.Errorf("read Bot API method list: %w", err)
		}
	})
	return spec.methods, spec.err
}

// NotInSpec lists each call's method or parameter that Bot API 9.4 does
// not have, as "method" or "method.param", once each, sorted.
func NotInSpec(calls []Call) ([]string, error) {
	methods, err := SpecMethods()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range calls {
		params, ok := methods[c.Method]
		if !ok {
			seen[c.Method] = true
			continue
		}
		for p := range c.Params {
			if !slices.Contains(params, p) {
				seen[c.Method+"."+p] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// CheckSpec fails t if the server was called with a method or parameter
// that Bot API 9.4 does not have. NewServer runs it when the test ends.
func (s *Server) CheckSpec(t testing.TB) {
	t.Helper()
	bad, err := NotInSpec(s.Calls())
	if err != nil {
		t.Errorf("telegramtest: %v", err)
		return
	}
	for _, b := range bad {
		t.Errorf("telegramtest: the bot called %s, which is not in Bot API 9.4", b)
	}
}
