package flows

import (
	"encoding/json"
	"errors"
	"fmt"
)

// sessionEnvelope is how a session is kept between turns: versioned, and
// naming its owner so a session can never be read for the wrong person.
// The store keeps it as opaque bytes (sealed at rest).
type sessionEnvelope struct {
	V       int     `json:"v"`
	Person  string  `json:"person"`
	Session Session `json:"session"`
}

// sessionVersion is the envelope's format; ReadSession refuses others.
const sessionVersion = 1

// WriteSession encodes person's session for the store.
func WriteSession(person string, s Session) ([]byte, error) {
	b, err := json.Marshal(sessionEnvelope{V: sessionVersion, Person: person, Session: s})
	if err != nil {
		return nil, fmt.Errorf("write session: %w", err)
	}
	return b, nil
}

// ReadSession decodes what WriteSession made for person. No bytes is a
// person the engine has not met: the zero Session. A session of another
// version, or stored for another person, is an error.
func ReadSession(person string, raw []byte) (Session, error) {
	if len(raw) == 0 {
		return Session{}, nil
	}
	var env sessionEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	if env.V != sessionVersion {
		return Session{}, fmt.Errorf("read session: unknown version %d", env.V)
	}
	if env.Person != person {
		return Session{}, errors.New("read session: stored for another person")
	}
	return env.Session, nil
}
