package store

import (
	"errors"
	"fmt"
)

// Sessions cross the store as the engine wrote them (flows.WriteSession:
// a compact binary form, or JSON kept by an earlier version), sealed at
// rest when the store has a sealer: a session holds a person's answers,
// which may be free text.

// sealSession seals a session for keeping when the store has a sealer.
func (s *Store) sealSession(b []byte) []byte {
	if s.sealer == nil {
		return b
	}
	return s.sealer.Seal(b)
}

// openSession opens a kept session. One kept unsealed (by a store without
// a sealer, or as JSON before sessions were sealed) starts with '{' or a
// version byte below 0x10, which no sealed one does (it starts with its
// key's id), and is read as it is.
func (s *Store) openSession(raw []byte) ([]byte, error) {
	if len(raw) == 0 || raw[0] == '{' || raw[0] < 0x10 {
		return raw, nil
	}
	if s.sealer == nil {
		return nil, errors.New("read session: sealed, and no key to open it")
	}
	plain, err := s.sealer.Open(raw)
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	return plain, nil
}
