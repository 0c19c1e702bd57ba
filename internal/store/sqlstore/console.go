package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/store"
)

// What the admin console keeps: its users, sessions, sign-in links,
// failed sign-ins and the accounts' settings.

const consoleUserCols = `id, account_id, email, role, password_hash, created_at, password_changed_at, last_sign_in_at`

func scanConsoleUser(sc interface{ Scan(...any) error }, u *store.ConsoleUser) error {
	return sc.Scan(&u.ID, &u.AccountID, &u.Email, &u.Role, &u.PasswordHash, nullTime{&u.CreatedAt},
		nullTime{&u.PasswordChangedAt}, nullTime{&u.LastSignInAt})
}

func (r reader) ConsoleUser(ctx context.Context, accountID, id string) (store.ConsoleUser, error) {
	var u store.ConsoleUser
	err := scanConsoleUser(r.c.row(ctx, `SELECT `+consoleUserCols+` FROM console_users WHERE account_id = ? AND id = ?`, accountID, id), &u)
	return u, wrap(err, r.c.f, "console user %q", id)
}

func (r reader) ConsoleUserByEmail(ctx context.Context, email string) (store.ConsoleUser, error) {
	var u store.ConsoleUser
	err := scanConsoleUser(r.c.row(ctx, `SELECT `+consoleUserCols+` FROM console_users WHERE email_key = ?`, key(email)), &u)
	return u, wrap(err, r.c.f, "console user %q", email)
}

func (r reader) ConsoleUsers(ctx context.Context, accountID string) ([]store.ConsoleUser, error) {
	return collect(ctx, r.c, "console users", scanConsoleUser, `SELECT `+consoleUserCols+` FROM console_users WHERE account_id = ? ORDER BY email_key`, accountID)
}

const sessionCols = `id, hash, user_id, account_id, client, created_at, last_seen_at, expires_at, revoked_at`

func scanSession(sc interface{ Scan(...any) error }, s *store.ConsoleSession) error {
	return sc.Scan(&s.ID, &s.Hash, &s.UserID, &s.AccountID, &s.Client, nullTime{&s.CreatedAt}, nullTime{&s.LastSeenAt},
		nullTime{&s.ExpiresAt}, nullTime{&s.RevokedAt})
}

func (r reader) ConsoleSessionByHash(ctx context.Context, hash string) (store.ConsoleSession, error) {
	var s store.ConsoleSession
	err := scanSession(r.c.row(ctx, `SELECT `+sessionCols+` FROM console_sessions WHERE hash = ?`, hash), &s)
	// The hash is a credential's digest: keep it out of the error.
	return s, wrap(err, r.c.f, "console session")
}

func (r reader) ConsoleSessions(ctx context.Context, userID string) ([]store.ConsoleSession, error) {
	return collect(ctx, r.c, "console sessions", scanSession, `SELECT `+sessionCols+` FROM console_sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
}

func (r reader) SignInLink(ctx context.Context, hash string) (store.SignInLink, error) {
	var l store.SignInLink
	err := r.c.row(ctx, `SELECT hash, account_id, user_id, created_at, expires_at, used_at FROM console_links WHERE hash = ?`, hash).
		Scan(&l.Hash, &l.AccountID, &l.UserID, nullTime{&l.CreatedAt}, nullTime{&l.ExpiresAt}, nullTime{&l.UsedAt})
	return l, wrap(err, r.c.f, "sign-in link")
}

func (r reader) SignInAttempts(ctx context.Context, emailKey string) (store.SignInAttempts, error) {
	var a store.SignInAttempts
	err := r.c.row(ctx, `SELECT email_key, failures, window_start, locked_until FROM console_signin_attempts WHERE email_key = ?`, emailKey).
		Scan(&a.EmailKey, &a.Failures, nullTime{&a.WindowStart}, nullTime{&a.LockedUntil})
	return a, wrap(err, r.c.f, "sign-in attempts")
}

func (r reader) AccountSettings(ctx context.Context, accountID string) (json.RawMessage, error) {
	var data string
	err := r.c.row(ctx, `SELECT data FROM account_settings WHERE account_id = ?`, accountID).Scan(&data)
	if err != nil {
		return nil, wrap(err, r.c.f, "settings of account %q", accountID)
	}
	return json.RawMessage(data), nil
}

func (t *tx) CreateConsoleUser(ctx context.Context, u *store.ConsoleUser) error {
	if u.Email == "" || u.Role == "" {
		return errors.New("sqlstore: create console user: email and role are required")
	}
	if err := t.c.checkAccount(ctx, u.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create console user: %w", err)
	}
	id, now := "cu_"+newID(), t.c.s.now()
	res, err := t.c.exec(ctx, `INSERT INTO console_users (id, account_id, email, email_key, role, password_hash, created_at, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, u.AccountID, u.Email, key(u.Email), u.Role, u.PasswordHash, now, timeArg(u.PasswordChangedAt))
	if err := inserted(res, err, t.c.f, "create console user %q", u.Email); err != nil {
		return err
	}
	u.ID, u.CreatedAt = id, now
	return nil
}

func (t *tx) UpdateConsoleUser(ctx context.Context, u store.ConsoleUser) error {
	n, err := affected(t.c.exec(ctx, `UPDATE console_users SET role = ?, password_hash = ?, password_changed_at = ?, last_sign_in_at = ?
		WHERE account_id = ? AND id = ?`,
		u.Role, u.PasswordHash, timeArg(u.PasswordChangedAt), timeArg(u.LastSignInAt), u.AccountID, u.ID))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap(err, t.c.f, "update console user %q", u.ID)
}

func (t *tx) DeleteConsoleUser(ctx context.Context, accountID, id string) error {
	n, err := affected(t.c.exec(ctx, `DELETE FROM console_users WHERE account_id = ? AND id = ?`, accountID, id))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	if err == nil {
		// Foreign keys remove the sessions; links name the user loosely.
		_, err = t.c.exec(ctx, `DELETE FROM console_links WHERE user_id = ?`, id)
	}
	return wrap(err, t.c.f, "delete console user %q", id)
}

func (t *tx) CreateConsoleSession(ctx context.Context, s *store.ConsoleSession) error {
	if s.Hash == "" || s.UserID == "" {
		return errors.New("sqlstore: create console session: hash and user are required")
	}
	id := "ses_" + newID()
	_, err := t.c.exec(ctx, `INSERT INTO console_sessions (id, hash, user_id, account_id, client, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, s.Hash, s.UserID, s.AccountID, s.Client, timeArg(s.CreatedAt), timeArg(s.LastSeenAt), timeArg(s.ExpiresAt))
	if err != nil {
		return wrap(err, t.c.f, "create console session")
	}
	s.ID = id
	return nil
}

func (t *tx) TouchConsoleSession(ctx context.Context, id string, seen time.Time) error {
	_, err := t.c.exec(ctx, `UPDATE console_sessions SET last_seen_at = ? WHERE id = ?`, timeArg(seen), id)
	return wrap(err, t.c.f, "touch console session %q", id)
}

func (t *tx) RevokeConsoleSessions(ctx context.Context, userID, id string, now time.Time) error {
	_, err := t.c.exec(ctx, `UPDATE console_sessions SET revoked_at = ? WHERE user_id = ? AND (? = '' OR id = ?) AND revoked_at IS NULL`,
		timeArg(now), userID, id, id)
	return wrap(err, t.c.f, "revoke console sessions")
}

func (t *tx) CreateSignInLink(ctx context.Context, l store.SignInLink) error {
	if l.Hash == "" {
		return errors.New("sqlstore: create sign-in link: empty hash")
	}
	if err := t.c.checkAccount(ctx, l.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create sign-in link: %w", err)
	}
	_, err := t.c.exec(ctx, `INSERT INTO console_links (hash, account_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		l.Hash, l.AccountID, l.UserID, timeArg(l.CreatedAt), timeArg(l.ExpiresAt))
	return wrap(err, t.c.f, "create sign-in link")
}

func (t *tx) UseSignInLink(ctx context.Context, hash string, now time.Time) (bool, error) {
	n, err := affected(t.c.exec(ctx, `UPDATE console_links SET used_at = ? WHERE hash = ? AND used_at IS NULL`, timeArg(now), hash))
	return n == 1, wrap(err, t.c.f, "use sign-in link")
}

func (t *tx) SetSignInAttempts(ctx context.Context, a store.SignInAttempts) error {
	_, err := t.c.exec(ctx, `INSERT INTO console_signin_attempts (email_key, failures, window_start, locked_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (email_key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, locked_until = excluded.locked_until`,
		a.EmailKey, a.Failures, timeArg(a.WindowStart), timeArg(a.LockedUntil))
	return wrap(err, t.c.f, "set sign-in attempts")
}

func (t *tx) SetAccountSettings(ctx context.Context, accountID string, data json.RawMessage) error {
	if err := t.c.checkAccount(ctx, accountID); err != nil {
		return fmt.Errorf("sqlstore: set account settings: %w", err)
	}
	_, err := t.c.exec(ctx, `INSERT INTO account_settings (account_id, data) VALUES (?, ?)
		ON CONFLICT (account_id) DO UPDATE SET data = excluded.data`, accountID, string(data))
	return wrap(err, t.c.f, "set settings of account %q", accountID)
}

func (t *tx) PruneConsole(ctx context.Context, before time.Time) (int, error) {
	b := timeArg(before)
	total := 0
	for _, q := range []string{
		`DELETE FROM console_sessions WHERE expires_at < ? OR revoked_at < ?`,
		`DELETE FROM console_links WHERE expires_at < ? OR used_at < ?`,
		`DELETE FROM console_signin_attempts WHERE window_start < ? AND (locked_until IS NULL OR locked_until < ?)`,
	} {
		n, err := affected(t.c.exec(ctx, q, b, b))
		if err != nil {
			return total, wrap(err, t.c.f, "prune console")
		}
		total += int(n)
	}
	return total, nil
}
