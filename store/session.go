package store

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Sessions are kept packed: the engine's JSON compressed with DEFLATE
// against a dictionary of what sessions hold (field names, flows' nodes,
// option ids), behind a version byte, then sealed. A session of a few
// hundred bytes of JSON keeps about a third of them. One kept as plain
// JSON (before sessions were packed) is read as it is and packed at its
// next write.

// sessionPacked is the first byte of a packed session.
const sessionPacked = 0x01

// sessionDict is DEFLATE's preset dictionary: the strings sessions most
// often hold, the commonest last (nearest the data).
var sessionDict = []byte(`"overlay":"","retries":1,"stopped":true,"stack":[{"flow":"","node":""}],` +
	`"progress.wages":"done","progress.unions":"done","progress.stress":"done","progress.safe_jobs":"done",` +
	`"progress.report_safely":"done","progress.recruitment":"done","progress.not_your_fault":"done",` +
	`"progress.money":"done","progress.migrant_rights":"done","progress.fragile":"done",` +
	`"progress.forced_labour":"done","progress.equal_pay":"done","progress.documents":"done",` +
	`"progress.debt":"done","progress.bargaining":"done","ci_esc":"","ci_about":"","checkins":"weekly",` +
	`"sc.coach":"","sc.any":"","lesson_documents","lesson_debt","lesson_equal_pay","lesson_bargaining",` +
	`"jobs","checkin","language","menu","lessons","settings","privacy","coach","topics","main","done",` +
	`"continue","back","yes","no","stop","consent":"yes","lang":"en","safeword":"",` +
	`{"v":1,"person":"","session":{"flow":"menu","node":"main","fields":{"lang":"en","consent":"yes"},` +
	`"prompt":1,"options":["1","2","3","4","5","6"],"seen":"2026-01-01T00:00:00.000000000Z"}}`)

var (
	packers = sync.Pool{New: func() any {
		w, err := flate.NewWriterDict(io.Discard, 4, sessionDict)
		if err != nil {
			panic(err) // only for a bad level
		}
		return w
	}}
	unpackers = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), sessionDict) }}
)

// packSession compresses a session as the engine wrote it.
func packSession(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/2 + 16)
	buf.WriteByte(sessionPacked)
	w := packers.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write(b) // writes to a bytes.Buffer do not fail
	_ = w.Close()
	packers.Put(w)
	return buf.Bytes()
}

// unpackSession reads what packSession made, or a plain JSON session.
func unpackSession(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != sessionPacked {
		return b, nil
	}
	r := unpackers.Get().(io.ReadCloser)
	defer unpackers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(b[1:]), sessionDict); err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	return out, nil
}

// sealSession packs a session and seals it when the store has a sealer:
// a session holds a person's answers, which may be free text.
func (s *Store) sealSession(b []byte) []byte {
	p := packSession(b)
	if s.sealer == nil {
		return p
	}
	return s.sealer.Seal(p)
}

// openSession opens a kept session: sealed or not (a store without a
// sealer), packed or plain JSON (kept before sessions were packed, or
// before they were sealed: it starts with '{', which no sealed one does).
func (s *Store) openSession(raw []byte) ([]byte, error) {
	if len(raw) == 0 || raw[0] == '{' || raw[0] == sessionPacked {
		return unpackSession(raw)
	}
	if s.sealer == nil {
		return nil, errors.New("read session: sealed, and no key to open it")
	}
	plain, err := s.sealer.Open(raw)
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	return unpackSession(plain)
}
