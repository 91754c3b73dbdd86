package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a data key in bytes.
const KeySize = 32

// Sealer encrypts personal data at rest with AES-GCM. Each ciphertext
// starts with the id of the key that made it, so a key can be rotated while
// old ciphertexts still open.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
	idKey   []byte
}

const kidLen = 8 // hex characters of the key id

// ErrSealed reports a ciphertext that cannot be opened.
var ErrSealed = errors.New("cannot decrypt: unknown key or damaged data")

// ParseKey decodes a base64 data key of KeySize bytes.
func ParseKey(b64 string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("data key is not base64: %w", err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("data key must be %d bytes, got %d", KeySize, len(k))
	}
	return k, nil
}

// NewSealer seals with key and also opens what older keys sealed. The key
// for pseudonymous ids is derived from idKey (normally the first data key
// the programme ever used, so ids survive a rotation).
func NewSealer(idKey, key []byte, older ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{key}, older...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("data key must be %d bytes, got %d", KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		kid := KeyID(k)
		s.aeads[kid] = aead
		if i == 0 {
			s.current = kid
		}
	}
	mac := hmac.New(sha256.New, idKey)
	mac.Write([]byte("lifeline person id v1"))
	s.idKey = mac.Sum(nil)
	return s, nil
}

// KeyID names a key without revealing it.
func KeyID(k []byte) string {
	sum := sha256.Sum256(append([]byte("lifeline key id:"), k...))
	return hex.EncodeToString(sum[:])[:kidLen]
}

// CurrentKeyID is the id of the key that seals.
func (s *Sealer) CurrentKeyID() string { return s.current }

// Seal encrypts plain.
func (s *Sealer) Seal(plain []byte) []byte {
	aead := s.aeads[s.current]
	out := make([]byte, kidLen+aead.NonceSize(), kidLen+aead.NonceSize()+len(plain)+aead.Overhead())
	copy(out, s.current)
	if _, err := rand.Read(out[kidLen:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return aead.Seal(out, out[kidLen:], plain, []byte(out[:kidLen]))
}

// Open decrypts what Seal made with any known key.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	if len(sealed) < kidLen {
		return nil, ErrSealed
	}
	aead := s.aeads[string(sealed[:kidLen])]
	if aead == nil || len(sealed) < kidLen+aead.NonceSize() {
		return nil, ErrSealed
	}
	nonce := sealed[kidLen : kidLen+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[kidLen+aead.NonceSize():], sealed[:kidLen])
	if err != nil {
		return nil, ErrSealed
	}
	return plain, nil
}

// SealJSON seals the JSON of v, which must be plain data (no channel,
// function or cycle), whose encoding cannot fail; it panics if it does.
func (s *Sealer) SealJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("store: SealJSON of data JSON cannot encode: " + err.Error())
	}
	return s.Seal(b)
}

// OpenJSON opens what SealJSON sealed into v.
func (s *Sealer) OpenJSON(sealed []byte, v any) error {
	plain, err := s.Open(sealed)
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}

// SealedWith returns the id of the key that sealed b.
func SealedWith(b []byte) string {
	if len(b) < kidLen {
		return ""
	}
	return string(b[:kidLen])
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// PersonID is the pseudonymous internal id of the person at address on
// channel: a keyed hash, so the address cannot be recovered from it.
func (s *Sealer) PersonID(channel, address string) string {
	mac := hmac.New(sha256.New, s.idKey)
	mac.Write([]byte(channel))
	mac.Write([]byte{0})
	mac.Write([]byte(address))
	return strings.ToLower(idEncoding.EncodeToString(mac.Sum(nil)[:13]))
}

// Hash is a keyed hash of a secret the person chose (a safe word), so it
// can be compared without being stored.
func (s *Sealer) Hash(purpose, value string) string {
	mac := hmac.New(sha256.New, s.idKey)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return hex.EncodeToString(mac.Sum(nil))
}
