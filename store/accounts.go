package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Console accounts: programme staff, supervisors, coaches and admins who
// sign in to the web console. The store keeps what the web package hands
// it; it hashes nothing and checks no password. Secrets are kept only as
// hashes (session ids, sign-in links, API tokens) or sealed (a TOTP key),
// so a copy of Redis signs nobody in.

// Account is one console account.
type Account struct {
	Name     string
	Role     string
	Password string // an encoded password hash ("" until the person sets one)
	TOTP     []byte // the sealed second-factor key, or nil
	Lang     string // the console language the person chose ("" for the browser's)
	Disabled bool
	Locked   bool // too many failed sign-ins; an admin lifts it
	Created  time.Time
}

// ErrNoAccount means no account has that name.
var ErrNoAccount = errors.New("no such account")

// ErrAccountExists means the name is taken.
var ErrAccountExists = errors.New("an account with this name exists")

// Every key of the staff accounts shares the hash tag {acct}, so an
// account changes with its sessions, links and tokens in one transaction
// on Redis Cluster too.
func (s *Store) accountKey(name string) string { return s.Key("{acct}", "a", name) }
func (s *Store) accountsKey() string           { return s.Key("{acct}", "all") }

// CreateAccount adds a; it fails with ErrAccountExists when the name is
// taken.
func (s *Store) CreateAccount(ctx context.Context, a Account) error {
	ok, err := s.rdb.SAdd(ctx, s.accountsKey(), a.Name).Result()
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if ok == 0 {
		return ErrAccountExists
	}
	if err := s.rdb.HSet(ctx, s.accountKey(a.Name), accountFields(a)...).Err(); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

func accountFields(a Account) []any {
	return []any{
		"role", a.Role, "pw", a.Password, "totp", a.TOTP, "lang", a.Lang,
		"disabled", boolFlag(a.Disabled), "locked", boolFlag(a.Locked),
		"created", a.Created.UTC().Format(time.RFC3339),
	}
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// GetAccount returns the account name, or ErrNoAccount.
func (s *Store) GetAccount(ctx context.Context, name string) (Account, error) {
	m, err := s.rdb.HGetAll(ctx, s.accountKey(name)).Result()
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	if len(m) == 0 {
		return Account{}, ErrNoAccount
	}
	a := Account{Name: name, Role: m["role"], Password: m["pw"], Lang: m["lang"],
		Disabled: m["disabled"] == "1", Locked: m["locked"] == "1"}
	if m["totp"] != "" {
		a.TOTP = []byte(m["totp"])
	}
	a.Created, _ = time.Parse(time.RFC3339, m["created"])
	return a, nil
}

// Accounts returns every account, by name.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	names, err := s.rdb.SMembers(ctx, s.accountsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out := make([]Account, 0, len(names))
	for _, n := range names {
		a, err := s.GetAccount(ctx, n)
		if errors.Is(err, ErrNoAccount) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	sortBy(out, func(a Account) string { return a.Name })
	return out, nil
}

// UpdateAccount sets fields of an existing account: "pw", "totp", "lang",
// "role", "disabled", "locked" ("1" or "0").
func (s *Store) UpdateAccount(ctx context.Context, name string, fields map[string]string) error {
	n, err := s.rdb.Exists(ctx, s.accountKey(name)).Result()
	if err != nil {
		return fmt.Errorf("update account: %w", err)
	}
	if n == 0 {
		return ErrNoAccount
	}
	vals := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		vals = append(vals, k, v)
	}
	if err := s.rdb.HSet(ctx, s.accountKey(name), vals...).Err(); err != nil {
		return fmt.Errorf("update account: %w", err)
	}
	return nil
}

// Console sessions and one-time links are kept by the hash of their
// secret, with a TTL; an account's set of session hashes lets it sign out
// everywhere.

// ConsoleSession is a signed-in browser.
type ConsoleSession struct {
	Account string
	Created time.Time
	Seen    time.Time
}

func (s *Store) csessKey(hash string) string    { return s.Key("{acct}", "sess", hash) }
func (s *Store) acctSessKey(name string) string { return s.Key("{acct}", "a", name, "sessions") }

// StartConsoleSession records a session for account under the hash of its
// id, expiring after idle.
func (s *Store) StartConsoleSession(ctx context.Context, hash, account string, now time.Time, idle time.Duration) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.csessKey(hash), "acct", account, "created", now.UnixMilli(), "seen", now.UnixMilli())
		p.PExpire(ctx, s.csessKey(hash), idle)
		p.SAdd(ctx, s.acctSessKey(account), hash)
		return nil
	})
	if err != nil {
		return fmt.Errorf("start console session: %w", err)
	}
	return nil
}

// ErrNoSession means the session ended (signed out, idle or never was).
var ErrNoSession = errors.New("no such console session")

var touchSessionScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'acct', 'created', 'seen')
if not v[1] then return false end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
`)

// TouchConsoleSession returns the session and restarts its idle timer.
func (s *Store) TouchConsoleSession(ctx context.Context, hash string, now time.Time, idle time.Duration) (ConsoleSession, error) {
	v, err := touchSessionScript.Run(ctx, s.rdb, []string{s.csessKey(hash)}, now.UnixMilli(), idle.Milliseconds()).Slice()
	if errors.Is(err, redis.Nil) {
		return ConsoleSession{}, ErrNoSession
	}
	if err != nil || len(v) != 3 {
		return ConsoleSession{}, fmt.Errorf("read console session: %w", err)
	}
	ms := func(x any) time.Time {
		n, _ := strconv.ParseInt(fmt.Sprint(x), 10, 64)
		return time.UnixMilli(n)
	}
	return ConsoleSession{Account: fmt.Sprint(v[0]), Created: ms(v[1]), Seen: ms(v[2])}, nil
}

// EndConsoleSession signs one session out.
func (s *Store) EndConsoleSession(ctx context.Context, hash, account string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.csessKey(hash))
		p.SRem(ctx, s.acctSessKey(account), hash)
		return nil
	})
	if err != nil {
		return fmt.Errorf("end console session: %w", err)
	}
	return nil
}

// EndAllConsoleSessions signs account out everywhere.
func (s *Store) EndAllConsoleSessions(ctx context.Context, account string) error {
	hashes, err := s.rdb.SMembers(ctx, s.acctSessKey(account)).Result()
	if err != nil {
		return fmt.Errorf("end console sessions: %w", err)
	}
	keys := []string{s.acctSessKey(account)}
	for _, h := range hashes {
		keys = append(keys, s.csessKey(h))
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("end console sessions: %w", err)
	}
	return nil
}

// SetSignInLink records a one-time sign-in link (by its hash) for account,
// valid for ttl. An account has one link at a time: a new one replaces the
// old.
func (s *Store) SetSignInLink(ctx context.Context, hash, account string, ttl time.Duration) error {
	old, err := s.rdb.HGet(ctx, s.accountKey(account), "link").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("sign-in link: %w", err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if old != "" {
			p.Del(ctx, s.Key("{acct}", "link", old))
		}
		p.Set(ctx, s.Key("{acct}", "link", hash), account, ttl)
		p.HSet(ctx, s.accountKey(account), "link", hash)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sign-in link: %w", err)
	}
	return nil
}

// SignInLink returns the account a link's hash stands for, or ErrNoAccount
// when it expired or was used.
func (s *Store) SignInLink(ctx context.Context, hash string) (string, error) {
	name, err := s.rdb.Get(ctx, s.Key("{acct}", "link", hash)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNoAccount
	}
	if err != nil {
		return "", fmt.Errorf("sign-in link: %w", err)
	}
	return name, nil
}

// UseSignInLink removes a link once it has been used.
func (s *Store) UseSignInLink(ctx context.Context, hash string) error {
	if err := s.rdb.Del(ctx, s.Key("{acct}", "link", hash)).Err(); err != nil {
		return fmt.Errorf("sign-in link: %w", err)
	}
	return nil
}

// CountFailure adds one failed sign-in for key (an account or an address)
// within window, and returns how many there were in it.
func (s *Store) CountFailure(ctx context.Context, key string, window time.Duration) (int64, error) {
	k := s.Key("{acct}", "fail", key)
	var n *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, k)
		p.PExpire(ctx, k, window)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count sign-in failure: %w", err)
	}
	return n.Val(), nil
}

// Failures returns the failed sign-ins counted for key.
func (s *Store) Failures(ctx context.Context, key string) (int64, error) {
	n, err := s.rdb.Get(ctx, s.Key("{acct}", "fail", key)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read sign-in failures: %w", err)
	}
	return n, nil
}

// ClearFailures forgets the failed sign-ins of key.
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.Key("{acct}", "fail", key)).Err(); err != nil {
		return fmt.Errorf("clear sign-in failures: %w", err)
	}
	return nil
}

// API tokens: each account may hold tokens for scripts, kept by hash.

// APIToken is one automation token's record (never the token itself).
type APIToken struct {
	Hash    string
	Account string
	Label   string
	Created time.Time
}

// AddAPIToken records a token's hash for account.
func (s *Store) AddAPIToken(ctx context.Context, t APIToken) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.Key("{acct}", "token", t.Hash), "acct", t.Account, "label", t.Label, "created", t.Created.UTC().Format(time.RFC3339))
		p.SAdd(ctx, s.Key("{acct}", "a", t.Account, "tokens"), t.Hash)
		return nil
	})
	if err != nil {
		return fmt.Errorf("add API token: %w", err)
	}
	return nil
}

// APITokenAccount returns the account a token hash belongs to, or
// ErrNoAccount.
func (s *Store) APITokenAccount(ctx context.Context, hash string) (string, error) {
	name, err := s.rdb.HGet(ctx, s.Key("{acct}", "token", hash), "acct").Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNoAccount
	}
	if err != nil {
		return "", fmt.Errorf("read API token: %w", err)
	}
	return name, nil
}

// APITokens lists account's tokens.
func (s *Store) APITokens(ctx context.Context, account string) ([]APIToken, error) {
	hashes, err := s.rdb.SMembers(ctx, s.Key("{acct}", "a", account, "tokens")).Result()
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	var out []APIToken
	for _, h := range hashes {
		m, err := s.rdb.HGetAll(ctx, s.Key("{acct}", "token", h)).Result()
		if err != nil {
			return nil, fmt.Errorf("list API tokens: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		t := APIToken{Hash: h, Account: account, Label: m["label"]}
		t.Created, _ = time.Parse(time.RFC3339, m["created"])
		out = append(out, t)
	}
	sortBy(out, func(t APIToken) string { return t.Created.Format(time.RFC3339) + t.Hash })
	return out, nil
}

// RevokeAPIToken deletes a token of account.
func (s *Store) RevokeAPIToken(ctx context.Context, account, hash string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.Key("{acct}", "token", hash))
		p.SRem(ctx, s.Key("{acct}", "a", account, "tokens"), hash)
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke API token: %w", err)
	}
	return nil
}

func sortBy[T any](s []T, key func(T) string) {
	slices.SortFunc(s, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}
