package flows

import (
	"encoding/json"
	"errors"
	"fmt"
)

// sessionEnvelope is how a session was kept between turns before sessions
// were packed (packed.go): versioned JSON naming its owner. ReadSession
// still reads it. The store keeps either as opaque bytes (sealed at rest).
type sessionEnvelope struct {
	V       int     `json:"v"`
	Person  string  `json:"person"`
	Session Session `json:"session"`
}

// sessionVersion is the JSON envelope's format, as sessions were kept
// before they were packed; ReadSession refuses other JSON versions.
const sessionVersion = 1

// errOtherPerson refuses a session kept for someone else.
var errOtherPerson = errors.New("stored for another person")

// WriteSession encodes person's session for the store, packed (packed.go).
func WriteSession(person string, s Session) ([]byte, error) {
	return packSession(person, s), nil
}

// ReadSession decodes what WriteSession made for person, or a session
// kept as JSON before sessions were packed. No bytes is a person the
// engine has not met: the zero Session. A session of another version, or
// stored for another person, is an error.
func ReadSession(person string, raw []byte) (Session, error) {
	if len(raw) == 0 {
		return Session{}, nil
	}
	if raw[0] != '{' {
		s, err := unpackSession(person, raw)
		if err != nil {
			return Session{}, fmt.Errorf("read session: %w", err)
		}
		return s, nil
	}
	var env sessionEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	if env.V != sessionVersion {
		return Session{}, fmt.Errorf("read session: unknown version %d", env.V)
	}
	if env.Person != person {
		return Session{}, fmt.Errorf("read session: %w", errOtherPerson)
	}
	return env.Session, nil
}
