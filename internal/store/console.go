package store

import (
	"context"
	"encoding/json"
	"time"
)

// This file holds what the admin console keeps: its users (people who sign
// in with an email and a password), their sessions, one-time sign-in
// links, the failed sign-ins that lock an address out for a while, and
// each account's settings. All of it lives in the database, so that any
// replica of the service answers any request. The store keeps hashes, never
// the passwords, session tokens or link tokens themselves, and interprets
// nothing: roles, expiries and lockouts are package manage's rules.

// ConsoleUser is a person who signs in to the console, in one account.
type ConsoleUser struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	// Email signs the user in; it is unique in the whole deployment, so
	// that signing in needs no account name.
	Email string `json:"email"`
	// Role is one of manage's roles; the store does not interpret it.
	Role string `json:"role"`
	// PasswordHash is the argon2id hash in its encoded form; empty when
	// the user has no password yet (signs in with a link only).
	PasswordHash      string    `json:"-"`
	CreatedAt         time.Time `json:"created_at"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
	LastSignInAt      time.Time `json:"last_sign_in_at,omitzero"`
}

// ConsoleSession is a signed-in browser. The cookie holds a random token;
// the store keeps its SHA-256.
type ConsoleSession struct {
	ID        string `json:"id"`
	Hash      string `json:"-"`
	UserID    string `json:"user_id"`
	AccountID string `json:"account_id"`
	// Client describes the browser (its user agent), for the list of
	// sessions.
	Client     string    `json:"client"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the session's absolute end; idle expiry is counted from
	// LastSeenAt by manage.
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// SignInLink is a one-time sign-in link: for an existing user (UserID
// set), or, with UserID empty, the link that creates the account's first
// owner.
type SignInLink struct {
	Hash      string
	AccountID string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// SignInAttempts counts the failed sign-ins of one address (known or
// not), for the lockout.
type SignInAttempts struct {
	EmailKey    string
	Failures    int
	WindowStart time.Time
	LockedUntil time.Time
}

// ConsoleReader reads what the console keeps.
type ConsoleReader interface {
	ConsoleUser(ctx context.Context, accountID, id string) (ConsoleUser, error)
	// ConsoleUserByEmail finds a user of any account, case-insensitively.
	ConsoleUserByEmail(ctx context.Context, email string) (ConsoleUser, error)
	ConsoleUsers(ctx context.Context, accountID string) ([]ConsoleUser, error)
	ConsoleSessionByHash(ctx context.Context, hash string) (ConsoleSession, error)
	// ConsoleSessions lists a user's sessions, newest first, revoked and
	// expired ones included until they are pruned.
	ConsoleSessions(ctx context.Context, userID string) ([]ConsoleSession, error)
	SignInLink(ctx context.Context, hash string) (SignInLink, error)
	// SignInAttempts returns ErrNotFound when the address has none.
	SignInAttempts(ctx context.Context, emailKey string) (SignInAttempts, error)
	// AccountSettings returns the account's settings as stored (JSON),
	// ErrNotFound when none were ever saved.
	AccountSettings(ctx context.Context, accountID string) (json.RawMessage, error)
}

// ConsoleWriter writes what the console keeps.
type ConsoleWriter interface {
	// CreateConsoleUser sets ID and CreatedAt; an email taken in any
	// account is ErrAlreadyExists.
	CreateConsoleUser(ctx context.Context, u *ConsoleUser) error
	// UpdateConsoleUser writes Role, PasswordHash, PasswordChangedAt and
	// LastSignInAt.
	UpdateConsoleUser(ctx context.Context, u ConsoleUser) error
	// DeleteConsoleUser removes the user with its sessions and links.
	DeleteConsoleUser(ctx context.Context, accountID, id string) error
	CreateConsoleSession(ctx context.Context, s *ConsoleSession) error // sets ID
	TouchConsoleSession(ctx context.Context, id string, seen time.Time) error
	// RevokeConsoleSessions revokes the user's sessions at now, all of
	// them, or only the one with id when id is not empty.
	RevokeConsoleSessions(ctx context.Context, userID, id string, now time.Time) error
	CreateSignInLink(ctx context.Context, l SignInLink) error
	// UseSignInLink marks the link used at now; it reports false, changing
	// nothing, when the link was already used.
	UseSignInLink(ctx context.Context, hash string, now time.Time) (bool, error)
	SetSignInAttempts(ctx context.Context, a SignInAttempts) error
	SetAccountSettings(ctx context.Context, accountID string, data json.RawMessage) error
	// PruneConsole deletes sessions and links that ended before before,
	// and attempts whose window and lockout ended before it.
	PruneConsole(ctx context.Context, before time.Time) (int, error)
}
