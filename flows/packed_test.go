package flows

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// A person part way through a lesson, with a free-text answer in Nepali
// and strings the table does not hold.
var packedExample = Session{
	Flow: "lesson_documents", Node: "quiz", Stack: []Frame{{Flow: "lessons", Node: "topics"}},
	Fields: map[string]string{"consent": "yes", "lang": "ne", "progress.debt": "done", "progress.documents": "quiz",
		"checkins": "weekly", "note.free": "मेरो राहदानी नवीकरण गर्नु छ"},
	Prompt: 14, Options: []string{"keep", "mine", "skip"}, Overlay: "help_offer", Retries: 2, Stopped: true,
	Seen: time.Date(2026, 12, 7, 1, 55, 12, 123_000_000, time.UTC),
}

// TestPackedSession: a session packs small, reads back equal, for its
// owner only, and every damaged or cut form is refused, never a panic.
func TestPackedSession(t *testing.T) {
	raw, _ := WriteSession("xz3noagrg5gtud34llhjk", packedExample)
	js, _ := json.Marshal(sessionEnvelope{V: sessionVersion, Person: "xz3noagrg5gtud34llhjk", Session: packedExample})
	t.Logf("packed %d bytes, JSON %d", len(raw), len(js))
	if len(raw)*3 > len(js) {
		t.Errorf("packed %d bytes against JSON's %d: want at most a third", len(raw), len(js))
	}
	got, err := ReadSession("xz3noagrg5gtud34llhjk", raw)
	if err != nil || !reflect.DeepEqual(got, packedExample) {
		t.Fatalf("read back %+v, %v\nwant %+v", got, err, packedExample)
	}
	if _, err := ReadSession("someone_else", raw); err == nil {
		t.Error("a session copied to another person loaded")
	}
	// The JSON an earlier version kept still reads.
	if got, err := ReadSession("xz3noagrg5gtud34llhjk", js); err != nil || !reflect.DeepEqual(got, packedExample) {
		t.Errorf("JSON session: %+v, %v", got, err)
	}
	for i := 1; i < len(raw); i++ {
		if _, err := ReadSession("xz3noagrg5gtud34llhjk", raw[:i]); err == nil {
			t.Errorf("cut at %d bytes: read", i)
		}
	}
	for _, bad := range [][]byte{{0x03, 0, 0, 0, 0}, append(bytes.Clone(raw), 0), {0x02, 1, 2, 3}} {
		if _, err := ReadSession("xz3noagrg5gtud34llhjk", bad); err == nil {
			t.Errorf("%x read", bad)
		}
	}
	if got, _ := ReadSession("p", mustWrite(Session{})); !reflect.DeepEqual(got, Session{}) {
		t.Errorf("the empty session read back as %+v", got)
	}
}

func mustWrite(s Session) []byte {
	b, _ := WriteSession("p", s)
	return b
}

// FuzzReadSession: no bytes make ReadSession panic, and once a session
// has been written (which normalises what JSON allowed: an empty map, a
// negative count), writing it again changes nothing.
func FuzzReadSession(f *testing.F) {
	raw, _ := WriteSession("p", packedExample)
	f.Add(raw)
	f.Add([]byte(`{"v":1,"person":"p","session":{"flow":"menu"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ReadSession("p", b)
		if err != nil {
			return
		}
		once, err := ReadSession("p", mustWrite(s))
		if err != nil {
			t.Fatalf("%+v wrote bytes that do not read: %v", s, err)
		}
		twice, _ := ReadSession("p", mustWrite(once))
		if !reflect.DeepEqual(once, twice) {
			t.Errorf("%+v wrote back as %+v", once, twice)
		}
	})
}

func BenchmarkWriteSession(b *testing.B) {
	for b.Loop() {
		_, _ = WriteSession("xz3noagrg5gtud34llhjk", packedExample)
	}
}

func BenchmarkReadSession(b *testing.B) {
	raw, _ := WriteSession("xz3noagrg5gtud34llhjk", packedExample)
	for b.Loop() {
		if _, err := ReadSession("xz3noagrg5gtud34llhjk", raw); err != nil {
			b.Fatal(err)
		}
	}
}
