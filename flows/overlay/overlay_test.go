package overlay_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lifeline-org/lifeline/flows/overlay"
)

// TestRead: the base's files in name order, then the override's (a file of
// the same name comes again, for the caller to replace or merge); only
// *.yaml at the top; the first error stops the walk.
func TestRead(t *testing.T) {
	base := fstest.MapFS{
		"b.yaml":     {Data: []byte("base b")},
		"a.yaml":     {Data: []byte("base a")},
		"notes.txt":  {Data: []byte("not content")},
		"sub/c.yaml": {Data: []byte("not at the top")},
	}
	override := fstest.MapFS{"a.yaml": {Data: []byte("mine a")}, "z.yaml": {Data: []byte("mine z")}}
	var got []string
	if err := overlay.Read(base, override, func(name string, data []byte) error {
		got = append(got, name+"="+string(data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.yaml=base a", "b.yaml=base b", "a.yaml=mine a", "z.yaml=mine z"}; !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	got = nil
	stop := errors.New("stop")
	err := overlay.Read(base, nil, func(name string, _ []byte) error {
		got = append(got, name)
		return stop
	})
	if !errors.Is(err, stop) || !slices.Equal(got, []string{"a.yaml"}) {
		t.Fatalf("after an error: read %q, %v", got, err)
	}
}

// TestEach: every file decoded into its own value, in Read's order; a file
// that does not decode is an error naming it.
func TestEach(t *testing.T) {
	type pack struct {
		Country string `yaml:"country"`
	}
	base := fstest.MapFS{"b.yaml": {Data: []byte("country: ke\n")}, "a.yaml": {Data: []byte("country: ug\n")}}
	var got []*pack
	if err := overlay.Each(base, nil, func(name string, p *pack) error {
		got = append(got, p)
		return nil
	}); err != nil || len(got) != 2 || got[0].Country != "ug" || got[1].Country != "ke" {
		t.Fatalf("decoded %v, %v", got, err)
	}
	bad := fstest.MapFS{"x.yaml": {Data: []byte("contry: ke\n")}}
	if err := overlay.Each(bad, nil, func(string, *pack) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), "x.yaml: ") {
		t.Fatalf("a file that does not decode: %v", err)
	}
}

// TestDecode refuses a key the target has no field for.
func TestDecode(t *testing.T) {
	var v struct {
		Country string `yaml:"country"`
	}
	if err := overlay.Decode([]byte("country: ke\n"), &v); err != nil || v.Country != "ke" {
		t.Fatalf("got %+v, %v", v, err)
	}
	if err := overlay.Decode([]byte("contry: ke\n"), &v); err == nil {
		t.Fatal("a misspelt key must be an error")
	}
	if s := overlay.Stem("dir/core.ne.yaml"); s != "core.ne" {
		t.Fatalf("Stem = %q", s)
	}
}
