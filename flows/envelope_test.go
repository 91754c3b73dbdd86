package flows

import (
	"strings"
	"testing"
	"time"
)

// TestSessionEnvelope: a session reads back as written, for its owner
// only; other versions and damaged bytes are refused with "read session".
func TestSessionEnvelope(t *testing.T) {
	s := Session{Flow: "menu", Node: "main", Fields: map[string]string{"lang": "es"}, Prompt: 3,
		Stack: []Frame{{Flow: "lesson", Node: "end"}}, Seen: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	raw, err := WriteSession("p4", s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadSession("p4", raw)
	if err != nil || got.Node != "main" || got.Fields["lang"] != "es" || got.Prompt != 3 || len(got.Stack) != 1 || !got.Seen.Equal(s.Seen) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if _, err := ReadSession("p5", raw); err == nil {
		t.Fatal("a session copied to another person must not load")
	}
	if got, err := ReadSession("p6", nil); err != nil || got.Flow != "" || got.Fields != nil {
		t.Fatalf("no session: %+v, %v; want the zero Session", got, err)
	}
	for name, raw := range map[string]string{
		"another version": `{"v":2,"person":"p4","session":{"flow":"menu"}}`,
		"no version":      `{"person":"p4","session":{"flow":"menu"}}`,
		"damaged":         `{"v":1,"person":"p4","sess`,
	} {
		if _, err := ReadSession("p4", []byte(raw)); err == nil || !strings.HasPrefix(err.Error(), "read session: ") {
			t.Errorf("%s: got %v, want a read session error", name, err)
		}
	}
}
