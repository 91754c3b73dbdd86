package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"

	"github.com/lifeline-org/lifeline/store"
)

// Roles, from the most to the least rights. A supervisor has staff's
// rights and every coach's case queue; an admin has all of those and the
// accounts.
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleStaff      = "staff"
	RoleCoach      = "coach"
)

// Roles lists the roles an account may have.
var Roles = []string{RoleAdmin, RoleSupervisor, RoleStaff, RoleCoach}

// LinkTTL is how long a one-time sign-in link works.
const LinkTTL = 24 * time.Hour

// MinPassword is the shortest password accepted (NIST 800-63B asks for at
// least 8; a passphrase of 12 is easy to type and hard to guess).
const MinPassword = 12

// Errors an account operation returns; the console shows each as a
// translated sentence.
var (
	ErrBadName      = errors.New("a name is 2 to 40 letters, digits, dots, dashes or underscores")
	ErrBadRole      = errors.New("unknown role")
	ErrWeakPassword = fmt.Errorf("a password needs at least %d characters", MinPassword)
	ErrBadCode      = errors.New("the code from the authenticator app is wrong")
)

// Accounts manages console accounts: created by `lifeline staff` or by an
// admin in the console, signed in with a password (argon2id) and an
// optional TOTP second factor.
type Accounts struct {
	st     *store.Store
	sealer *store.Sealer
	now    func() time.Time
}

// NewAccounts returns account operations on st; sealer encrypts TOTP keys.
func NewAccounts(st *store.Store, sealer *store.Sealer, clock func() time.Time) *Accounts {
	if clock == nil {
		clock = time.Now
	}
	return &Accounts{st: st, sealer: sealer, now: clock}
}

// ValidName reports whether name may name an account. Names appear in the
// audit log and in URLs, so they are plain.
func ValidName(name string) bool {
	if len(name) < 2 || len(name) > 40 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Add creates an account with no password and returns a one-time sign-in
// token (valid for LinkTTL) with which the person sets one.
func (a *Accounts) Add(ctx context.Context, name, role string) (string, error) {
	if !ValidName(name) {
		return "", ErrBadName
	}
	if !slices.Contains(Roles, role) {
		return "", ErrBadRole
	}
	if err := a.st.CreateAccount(ctx, store.Account{Name: name, Role: role, Created: a.now()}); err != nil {
		return "", err
	}
	return a.Reset(ctx, name)
}

// Reset makes a new one-time sign-in link for name (the old one stops
// working), signs the account out everywhere and lifts a lock-out; the
// current password keeps working until the link is used.
func (a *Accounts) Reset(ctx context.Context, name string) (string, error) {
	if _, err := a.st.GetAccount(ctx, name); err != nil {
		return "", err
	}
	token := secret()
	if err := a.st.SetSignInLink(ctx, digest(token), name, LinkTTL); err != nil {
		return "", err
	}
	if err := a.Unlock(ctx, name); err != nil {
		return "", err
	}
	return token, a.st.EndAllConsoleSessions(ctx, name)
}

// LinkAccount returns the account a sign-in token is for, or
// store.ErrNoAccount when it expired or was used.
func (a *Accounts) LinkAccount(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", store.ErrNoAccount
	}
	return a.st.SignInLink(ctx, digest(token))
}

// UseLink sets the password of the link's account and spends the link.
func (a *Accounts) UseLink(ctx context.Context, token, password string) (string, error) {
	name, err := a.LinkAccount(ctx, token)
	if err != nil {
		return "", err
	}
	if err := a.SetPassword(ctx, name, password); err != nil {
		return "", err
	}
	return name, a.st.UseSignInLink(ctx, digest(token))
}

// SetPassword hashes password for name.
func (a *Accounts) SetPassword(ctx context.Context, name, password string) error {
	if utf8.RuneCountInString(password) < MinPassword {
		return ErrWeakPassword
	}
	return a.st.UpdateAccount(ctx, name, map[string]string{"pw": hashPassword(password)})
}

// Disable stops name from signing in and signs it out everywhere; enable
// with Enable.
func (a *Accounts) Disable(ctx context.Context, name string) error {
	if err := a.st.UpdateAccount(ctx, name, map[string]string{"disabled": "1"}); err != nil {
		return err
	}
	return a.st.EndAllConsoleSessions(ctx, name)
}

// Enable lets a disabled account sign in again.
func (a *Accounts) Enable(ctx context.Context, name string) error {
	return a.st.UpdateAccount(ctx, name, map[string]string{"disabled": "0"})
}

// Unlock lifts a lock-out after too many failed sign-ins.
func (a *Accounts) Unlock(ctx context.Context, name string) error {
	if err := a.st.UpdateAccount(ctx, name, map[string]string{"locked": "0"}); err != nil {
		return err
	}
	return a.st.ClearFailures(ctx, "acct:"+name)
}

// SetLanguage records the console language name chose ("" for the
// browser's).
func (a *Accounts) SetLanguage(ctx context.Context, name, lang string) error {
	return a.st.UpdateAccount(ctx, name, map[string]string{"lang": lang})
}

// NewTOTP makes a second-factor key for name; it is not used until
// ConfirmTOTP sees a code made with it. It returns the key and its
// otpauth:// address for an authenticator app.
func (a *Accounts) NewTOTP(name string) (secretKey, url string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: "Lifeline", AccountName: name})
	if err != nil {
		return "", "", fmt.Errorf("make second-factor key: %w", err)
	}
	return k.Secret(), k.URL(), nil
}

// ConfirmTOTP turns the second factor on for name once code matches key.
func (a *Accounts) ConfirmTOTP(ctx context.Context, name, key, code string) error {
	if ok, _ := totp.ValidateCustom(strings.TrimSpace(code), key, a.now(), totpOpts); !ok {
		return ErrBadCode
	}
	return a.st.UpdateAccount(ctx, name, map[string]string{"totp": string(a.sealer.Seal([]byte(key)))})
}

// RemoveTOTP turns name's second factor off (an admin does it for a lost
// phone, together with Reset).
func (a *Accounts) RemoveTOTP(ctx context.Context, name string) error {
	return a.st.UpdateAccount(ctx, name, map[string]string{"totp": ""})
}

// checkTOTP reports whether code is right for acct's sealed key.
func (a *Accounts) checkTOTP(acct store.Account, code string) bool {
	key, err := a.sealer.Open(acct.TOTP)
	if err != nil {
		return false
	}
	ok, _ := totp.ValidateCustom(strings.TrimSpace(code), string(key), a.now(), totpOpts)
	return ok
}

// NewToken makes an API token for name's scripts; only its hash is kept.
func (a *Accounts) NewToken(ctx context.Context, name, label string) (string, error) {
	token := "llt_" + secret()
	err := a.st.AddAPIToken(ctx, store.APIToken{Hash: digest(token), Account: name, Label: label, Created: a.now()})
	return token, err
}

// Bearer makes Accounts a bot.Gate: an API token of an enabled account
// whose role may use the staff API stands for "<role>:<name>".
func (a *Accounts) Bearer(ctx context.Context, token string) (string, bool) {
	if !strings.HasPrefix(token, "llt_") {
		return "", false
	}
	name, err := a.st.APITokenAccount(ctx, digest(token))
	if err != nil {
		return "", false
	}
	acct, err := a.st.GetAccount(ctx, name)
	if err != nil || acct.Disabled || !can(acct.Role, areaStaff) {
		return "", false
	}
	return actor(acct), true
}

func actor(acct store.Account) string { return acct.Role + ":" + acct.Name }

// secret returns 32 random bytes as URL-safe text.
func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// digest is how secrets are kept: a copy of Redis gives no live session,
// link or token.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Password hashing: argon2id with OWASP's minimum (19 MiB, 2 passes, 1
// lane), stored in the PHC string format.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

func hashPassword(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// dummyHash is checked against when the account does not exist, so that
// a sign-in takes as long whether or not the name is known.
var dummyHash = hashPassword("not a password of anyone")

func checkPassword(encoded, pw string) bool {
	if encoded == "" {
		encoded, pw = dummyHash, pw+"\x00" // spend the same time, never match
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
