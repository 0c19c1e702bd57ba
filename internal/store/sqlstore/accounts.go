package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// reader implements store.Reader on a conn: the database outside any
// transaction, or one transaction.
type reader struct{ c *conn }

// tx implements store.Tx.
type tx struct {
	reader
	c *conn
}

var _ store.Tx = (*tx)(nil)

// key is the form a name is compared in: case-insensitive uniqueness and
// lookups compare keys, computed here rather than by the database so that
// SQLite (whose lower() knows only ASCII) and PostgreSQL agree.
func key(s string) string { return strings.ToLower(s) }

func (r reader) Account(ctx context.Context, nameOrID string) (directory.Account, error) {
	var a directory.Account
	// An id wins over a name that happens to look like one.
	err := r.c.row(ctx, `SELECT id, name, created_at FROM accounts
		WHERE id = ? OR name_key = ? ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`,
		nameOrID, key(nameOrID), nameOrID).Scan(&a.ID, &a.Name, nullTime{&a.CreatedAt})
	if err != nil {
		return a, wrap(err, r.c.f, "account %q", nameOrID)
	}
	return a, nil
}

func (r reader) Accounts(ctx context.Context) ([]directory.Account, error) {
	rows, err := r.c.query(ctx, `SELECT id, name, created_at FROM accounts ORDER BY name_key, id`)
	if err != nil {
		return nil, wrap(err, r.c.f, "accounts")
	}
	defer rows.Close()
	var out []directory.Account
	for rows.Next() {
		var a directory.Account
		if err := rows.Scan(&a.ID, &a.Name, nullTime{&a.CreatedAt}); err != nil {
			return nil, wrap(err, r.c.f, "accounts")
		}
		out = append(out, a)
	}
	return out, wrap(rows.Err(), r.c.f, "accounts")
}

func (t *tx) CreateAccount(ctx context.Context, a *directory.Account) error {
	if a.Name == "" {
		return errors.New("sqlstore: create account: empty name")
	}
	id, now := newID(), t.c.s.now()
	res, err := t.c.exec(ctx, `INSERT INTO accounts (id, name, name_key, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, id, a.Name, key(a.Name), now)
	if err := inserted(res, err, t.c.f, "create account %q", a.Name); err != nil {
		return err
	}
	a.ID, a.CreatedAt = id, now
	return nil
}

// inserted checks an INSERT ... ON CONFLICT DO NOTHING: no row means a
// uniqueness rule stopped it. The rule is not broken by the statement, which
// on PostgreSQL would abort the whole transaction.
func inserted(res sql.Result, err error, f *flavor, format string, args ...any) error {
	if err != nil {
		return wrap(err, f, format, args...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, f, format, args...)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: name taken: %w", fmt.Sprintf(format, args...), store.ErrAlreadyExists)
	}
	return nil
}

// affected returns how many rows a statement changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// checkAccount fails with ErrNotFound when the account does not exist; the
// transaction remembers accounts it has seen, as an apply creates many
// objects in one account.
func (c *conn) checkAccount(ctx context.Context, accountID string) error {
	if c.seen[accountID] {
		return nil
	}
	var one int
	if err := c.row(ctx, `SELECT 1 FROM accounts WHERE id = ?`, accountID).Scan(&one); err != nil {
		return wrap(err, c.f, "account %q", accountID)
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[accountID] = true
	return nil
}

const sourceCols = `id, account_id, name, description, kind, config, secret, enabled, created_at, updated_at, settings`

func scanSource(sc interface{ Scan(...any) error }, s *directory.Source) error {
	var settings string
	err := sc.Scan(&s.ID, &s.AccountID, &s.Name, &s.Description, &s.Kind, &s.Config, &s.Secret, &s.Enabled,
		nullTime{&s.CreatedAt}, nullTime{&s.UpdatedAt}, &settings)
	if settings != "" {
		s.Settings = []byte(settings)
	}
	// Empty byte strings come back as nil, whichever way the driver hands
	// them over, so callers need test only len.
	if len(s.Config) == 0 {
		s.Config = nil
	}
	if len(s.Secret) == 0 {
		s.Secret = nil
	}
	return err
}

func (r reader) Source(ctx context.Context, accountID, nameOrID string) (directory.Source, error) {
	var s directory.Source
	err := scanSource(r.c.row(ctx, `SELECT `+sourceCols+` FROM sources
		WHERE account_id = ? AND (id = ? OR name_key = ?)
		ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`,
		accountID, nameOrID, key(nameOrID), nameOrID), &s)
	if err != nil {
		return directory.Source{}, wrap(err, r.c.f, "source %q", nameOrID)
	}
	return s, nil
}

func (r reader) Sources(ctx context.Context, accountID string) ([]directory.Source, error) {
	rows, err := r.c.query(ctx, `SELECT `+sourceCols+` FROM sources WHERE account_id = ? ORDER BY name_key, id`, accountID)
	if err != nil {
		return nil, wrap(err, r.c.f, "sources")
	}
	defer rows.Close()
	var out []directory.Source
	for rows.Next() {
		var s directory.Source
		if err := scanSource(rows, &s); err != nil {
			return nil, wrap(err, r.c.f, "sources")
		}
		out = append(out, s)
	}
	return out, wrap(rows.Err(), r.c.f, "sources")
}

func (r reader) SealedSource(ctx context.Context) (directory.Source, error) {
	var s directory.Source
	err := scanSource(r.c.row(ctx, `SELECT `+sourceCols+` FROM sources WHERE secret IS NOT NULL AND length(secret) > 0
		ORDER BY id LIMIT 1`), &s)
	return s, wrap(err, r.c.f, "a source with a secret")
}

func (r reader) SourceState(ctx context.Context, sourceID string) (string, error) {
	var state string
	err := r.c.row(ctx, `SELECT state FROM sources WHERE id = ?`, sourceID).Scan(&state)
	return state, wrap(err, r.c.f, "source %q state", sourceID)
}

func (t *tx) CreateSource(ctx context.Context, s *directory.Source) error {
	if s.Name == "" {
		return errors.New("sqlstore: create source: empty name")
	}
	if err := t.c.checkAccount(ctx, s.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create source %q: %w", s.Name, err)
	}
	id, now := newID(), t.c.s.now()
	res, err := t.c.exec(ctx, `INSERT INTO sources (id, account_id, name, name_key, description, kind, config, secret, enabled, created_at, updated_at, settings)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, s.AccountID, s.Name, key(s.Name), s.Description, s.Kind, s.Config, s.Secret, s.Enabled, now, now, string(s.Settings))
	if err := inserted(res, err, t.c.f, "create source %q", s.Name); err != nil {
		return err
	}
	s.ID, s.CreatedAt, s.UpdatedAt = id, now, now
	return nil
}

// UpdateSource writes every field of s but ID, AccountID and CreatedAt;
// UpdatedAt is the store's clock.
func (t *tx) UpdateSource(ctx context.Context, s directory.Source) error {
	if s.Name == "" {
		return errors.New("sqlstore: update source: empty name")
	}
	n, err := affected(t.c.exec(ctx, `UPDATE sources SET name = ?, name_key = ?, description = ?, kind = ?,
			config = ?, secret = ?, enabled = ?, updated_at = ?, settings = ?
		WHERE id = ? AND account_id = ?
		AND NOT EXISTS (SELECT 1 FROM sources o WHERE o.account_id = ? AND o.name_key = ? AND o.id <> ?)`,
		s.Name, key(s.Name), s.Description, s.Kind, s.Config, s.Secret, s.Enabled, t.c.s.now(), string(s.Settings),
		s.ID, s.AccountID, s.AccountID, key(s.Name), s.ID))
	if err != nil {
		return wrap(err, t.c.f, "update source %q", s.Name)
	}
	if n == 0 {
		if _, err := t.Source(ctx, s.AccountID, s.ID); err != nil {
			return fmt.Errorf("sqlstore: update source: %w", err)
		}
		return fmt.Errorf("sqlstore: update source %q: name taken: %w", s.Name, store.ErrAlreadyExists)
	}
	return nil
}

// DeleteSource removes the source, its links, the memberships it owns, its
// runs' staged rows and its state. Its users and groups stay, as local
// objects, and its run history stays.
func (t *tx) DeleteSource(ctx context.Context, accountID, id string) error {
	var sid string
	if err := t.c.row(ctx, `SELECT id FROM sources WHERE account_id = ? AND id = ?`, accountID, id).Scan(&sid); err != nil {
		return wrap(err, t.c.f, "delete source %q", id)
	}
	for _, q := range []string{
		`DELETE FROM staged_users WHERE run_id IN (SELECT id FROM runs WHERE source_id = ?)`,
		`DELETE FROM staged_groups WHERE run_id IN (SELECT id FROM runs WHERE source_id = ?)`,
		`DELETE FROM staged_memberships WHERE run_id IN (SELECT id FROM runs WHERE source_id = ?)`,
		`DELETE FROM memberships WHERE source_id = ?`,
		`DELETE FROM user_links WHERE source_id = ?`,
		`DELETE FROM group_links WHERE source_id = ?`,
		`DELETE FROM domain_claims WHERE source_id = ?`,
		`DELETE FROM sources WHERE id = ?`,
	} {
		if _, err := t.c.exec(ctx, q, sid); err != nil {
			return wrap(err, t.c.f, "delete source %q", id)
		}
	}
	return nil
}

func (t *tx) SetSourceState(ctx context.Context, sourceID, state string) error {
	n, err := affected(t.c.exec(ctx, `UPDATE sources SET state = ? WHERE id = ?`, state, sourceID))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap(err, t.c.f, "set source %q state", sourceID)
}
