package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// A full run's apply used to create every new user after the last page was
// read: a lookup of its links, username and email, an INSERT of the user
// and of its link, its change and its event, each row bound from Go, in
// the one transaction that holds the directory's write lock. On SQLite the
// run now prepares them while the source is still read (PrepareUsers, each
// users batch as it is staged): the user's row with its id, and its change,
// wait in the staging file's prep_users; the apply checks them again
// against the directory as it is then, and creates those still free with
// a few INSERT ... SELECT statements (ApplyPreparedUsers). Nothing
// prepared is in the directory before that transaction commits, so a run
// that fails or is interrupted leaves the directory as it was, and its
// prepared rows go with its staging.

// prepSchema is prep_users, in the staging database. Its value columns
// have no type, so that each value keeps the type it was bound with and is
// copied into users as CreateUser would have written it.
var prepSchema = `CREATE TABLE IF NOT EXISTS stage.prep_users (
	run_id TEXT NOT NULL, external_id TEXT NOT NULL, id TEXT NOT NULL, change TEXT NOT NULL, created_at,
	` + userWriteCols + `,
	PRIMARY KEY (run_id, external_id))`

// prepWordsSchema is prep_words, in the staging database: the search words
// of each prepared user (user_words' rows), written with it.
var prepWordsSchema = `CREATE TABLE IF NOT EXISTS stage.prep_words (
	run_id TEXT NOT NULL, user_id TEXT NOT NULL, word TEXT NOT NULL, username_key TEXT NOT NULL,
	PRIMARY KEY (run_id, user_id, word)) WITHOUT ROWID`

// prefixed is a column list with each column qualified by the alias.
func prefixed(cols, alias string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// CanPrepare says whether the store prepares users: SQLite's does (the
// apply there holds the only write lock; PostgreSQL applies side by side).
func (s *Store) CanPrepare() bool { return s.flavor.name == "sqlite" }

// PrepareUsers records which of the batch's users are free to be created,
// as store.UserPreparer says.
func (s *Store) PrepareUsers(ctx context.Context, p store.PrepareBatch) error {
	if !s.CanPrepare() {
		return nil
	}
	users := lastByExternalID(p.Users, func(u *store.PreparedUser) string { return u.ExternalID })
	now := s.now()
	err := s.withTx(ctx, func(c *conn) error {
		t := &tx{reader: reader{c: c}, c: c}
		for start := 0; start < len(p.Staged); start += keysBatch {
			batch := p.Staged[start:min(start+keysBatch, len(p.Staged))]
			q := `DELETE FROM prep_users WHERE run_id = ? AND external_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(batch)), ", ") + `)`
			if _, err := c.execOnce(ctx, q, append([]any{p.RunID}, anySlice(batch)...)...); err != nil {
				return err
			}
		}
		su := make([]directory.SourceUser, len(users))
		for i, u := range users {
			su[i] = directory.SourceUser{ExternalID: u.ExternalID, UserAttributes: u.User.UserAttributes}
		}
		free, err := t.FreeUsers(ctx, p.AccountID, p.SourceID, su)
		if err != nil {
			return err
		}
		var (
			rows     []any
			prepared []directory.User
		)
		n := 0
		cols := 5 + len(strings.Split(userWriteCols, ","))
		flush := func() error {
			if n == 0 {
				return nil
			}
			err := c.insertRows(ctx, `INSERT INTO prep_users (run_id, external_id, id, change, created_at, `+userWriteCols+`) VALUES `,
				`(`+strings.TrimSuffix(strings.Repeat("?, ", cols), ", ")+`)`, n, bulkUsers, "", rows)
			rows, n = rows[:0], 0
			return err
		}
		for i := range users {
			if !free[i] {
				continue
			}
			u, row, err := prepRow(p.RunID, users[i], now)
			if err != nil {
				return err
			}
			if row == nil {
				continue // the apply meets it again, and says why
			}
			rows = append(rows, row...)
			if n++; n == bulkUsers {
				if err := flush(); err != nil {
					return err
				}
			}
			prepared = append(prepared, u)
		}
		if err := prepareWords(ctx, c, p.RunID, prepared); err != nil {
			return err
		}
		return flush()
	})
	return wrap(err, s.flavor, "prepare users")
}

// prepRow is prep_users' row of a free user, with the user as created
// (its id and times), or no row for a user CreateUser would refuse.
func prepRow(runID string, pu store.PreparedUser, now time.Time) (directory.User, []any, error) {
	u := pu.User
	if u.Username == "" {
		return u, nil, nil
	}
	if u.State == "" {
		u.State = directory.StateActive
	}
	args, err := userArgs(&u)
	if err != nil {
		return u, nil, nil
	}
	u.ID, u.CreatedAt, u.UpdatedAt = newID(), now, now
	object, err := json.Marshal(u)
	if err != nil {
		return u, nil, err
	}
	ch := pu.Change
	ch.ObjectID, ch.Object = u.ID, object
	ch.Attributes = ownAttributes(ch, u.UserAttributes)
	data, err := encodeChange(ch)
	if err != nil {
		return u, nil, err
	}
	return u, append([]any{runID, pu.ExternalID, u.ID, data, now}, args...), nil
}

// prepareWords writes the search words of the prepared users.
func prepareWords(ctx context.Context, c *conn, runID string, users []directory.User) error {
	words := make([]any, 0, 4*wordsBatch)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		err := c.insertRows(ctx, `INSERT INTO prep_words (run_id, user_id, word, username_key) VALUES `, "(?, ?, ?, ?)", n, wordsBatch,
			"ON CONFLICT DO NOTHING", words)
		words, n = words[:0], 0
		return err
	}
	for _, u := range users {
		for _, w := range directory.SearchWords(u.UserAttributes) {
			words = append(words, runID, u.ID, w, key(u.Username))
			if n++; n == wordsBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// ApplyPreparedUsers creates the run's prepared users that are still
// free, as store.Tx says.
func (t *tx) ApplyPreparedUsers(ctx context.Context, sourceID string, log store.MemberLog) (int, error) {
	c, runID := t.c, log.RunID
	if c.f.name != "sqlite" {
		return 0, nil
	}
	// What changed since the users were prepared: their source object
	// linked, their username or email taken, or shared by two of them.
	// Those go the way of every other user (StagedUsers).
	_, err := c.execOnce(ctx, `DELETE FROM prep_users WHERE run_id = ? AND (
		EXISTS (SELECT 1 FROM user_links l WHERE l.source_id = ? AND l.external_id = prep_users.external_id)
		OR EXISTS (SELECT 1 FROM users u WHERE u.account_id = ? AND u.username_key = prep_users.username_key)
		OR (prep_users.email_key <> '' AND EXISTS (SELECT 1 FROM users u
			WHERE u.account_id = ? AND u.email_key <> '' AND u.email_key = prep_users.email_key))
		OR username_key IN (SELECT username_key FROM prep_users WHERE run_id = ? GROUP BY username_key HAVING COUNT(*) > 1)
		OR (email_key <> '' AND email_key IN (SELECT email_key FROM prep_users
			WHERE run_id = ? AND email_key <> '' GROUP BY email_key HAVING COUNT(*) > 1)))`,
		runID, sourceID, log.AccountID, log.AccountID, runID, runID)
	if err != nil {
		return 0, wrap(err, c.f, "apply prepared users: check")
	}
	var n int
	if err := c.row(ctx, `SELECT COUNT(*) FROM prep_users WHERE run_id = ?`, runID).Scan(&n); err != nil || n == 0 {
		return 0, wrap(err, c.f, "apply prepared users")
	}
	if err := t.createPrepared(ctx, sourceID, int64(n), log); err != nil {
		return 0, wrap(err, c.f, "apply prepared users")
	}
	return n, nil
}

// createPrepared writes the prepared users, their links, their changes
// (numbered after the run's last, in external id order, as the run's other
// users) and their events (each a reference to its change).
func (t *tx) createPrepared(ctx context.Context, sourceID string, n int64, log store.MemberLog) error {
	c, runID := t.c, log.RunID
	var last int64
	if err := c.row(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes WHERE run_id = ?`, runID).Scan(&last); err != nil {
		return err
	}
	for _, q := range []string{`CREATE TEMP TABLE IF NOT EXISTS prep_log (n INTEGER PRIMARY KEY, external_id TEXT NOT NULL)`,
		`DELETE FROM prep_log`} {
		if _, err := c.execOnce(ctx, q); err != nil {
			return err
		}
	}
	defer c.execOnce(ctx, `DROP TABLE prep_log`)
	var words int64
	if err := c.row(ctx, `SELECT COUNT(*) FROM prep_words WHERE run_id = ?`, runID).Scan(&words); err != nil {
		return err
	}
	const ordered = ` FROM prep_log l JOIN prep_users p ON p.run_id = ? AND p.external_id = l.external_id ORDER BY l.n`
	steps := []query{
		{`INSERT INTO prep_log (external_id) SELECT external_id FROM prep_users WHERE run_id = ? ORDER BY external_id`, []any{runID}},
		{`INSERT INTO users (` + userWriteCols + `, id, account_id, created_at, updated_at)
			SELECT ` + prefixed(userWriteCols, "p") + `, p.id, ?, p.created_at, p.created_at` + ordered, []any{log.AccountID, runID}},
		{`INSERT INTO user_links (source_id, external_id, user_id) SELECT ?, p.external_id, p.id` + ordered, []any{sourceID, runID}},
		// In user_words' key order: the rows go in one after the other. The
		// CROSS JOIN keeps prep_users first: prep_words first, in that
		// order already, would scan prep_users for each word.
		{`INSERT INTO user_words (user_id, word, account_id, username_key) SELECT w.user_id, w.word, ?, w.username_key
			FROM prep_users p CROSS JOIN prep_words w ON w.run_id = p.run_id AND w.user_id = p.id WHERE p.run_id = ?
			ORDER BY w.user_id, w.word`, []any{log.AccountID, runID}},
		{`INSERT INTO changes (run_id, seq, data, user_id) SELECT ?, ? + l.n, p.change, p.id` + ordered,
			[]any{runID, last, runID}},
		{`INSERT INTO events (id, account_id, type, time, source_id, run_id, data, change_seq)
			SELECT 'evt_' || CAST(? AS TEXT) || '-' || CAST(? + l.n AS TEXT), ?, ?, ?, ?, ?, json_object('source', CAST(? AS TEXT)), ? + l.n
			FROM prep_log l ORDER BY l.n`,
			[]any{runID, last, log.AccountID, directory.EventUserCreated, timeArg(log.Time), sourceID, runID, log.SourceName, last}},
	}
	if err := c.f.lockFeed(ctx, c, log.AccountID); err != nil {
		return err
	}
	return withoutIndexes(ctx, c, preparedIndexes(n, words), func() error {
		for _, q := range steps {
			if _, err := c.execOnce(ctx, q.sql, q.args...); err != nil {
				return fmt.Errorf("%.40s: %w", strings.TrimSpace(q.sql), err)
			}
		}
		return nil
	})
}

// preparedIndexes are the indexes createPrepared's rows, n users with
// their words, would update out of their order (withoutIndexes): the
// users', their words' by word, and the changes' by user (the users' ids
// follow the order they were prepared in, not their external ids').
func preparedIndexes(n, words int64) []bulkIndex {
	return []bulkIndex{
		{"users", n, []string{"users_username_key", "users_email_key", "users_state_key"}},
		{"user_words", words, []string{"user_words_word"}},
		{"changes", n, []string{"changes_user"}},
	}
}

// ownAttributes are the attributes of a prepared user's creation as
// changes.data keeps them: none when they are the user's own, each from
// nothing, which a read rebuilds from the object (encodeChange would find
// so by decoding the object it was just given, the most of preparing a
// user). The object holds them as written: strings and lists, each read
// back as its JSON says it (a list emptied is absent, which DiffUsers does
// not tell from empty). Invalid UTF-8 reads back replaced, written
// otherwise than the original: those go to encodeChange, which keeps them.
func ownAttributes(ch directory.Change, attrs directory.UserAttributes) []directory.AttrChange {
	if ch.Action != directory.ActionCreated || !reflect.DeepEqual(ch.Attributes, directory.DiffUsers(directory.UserAttributes{}, attrs)) {
		return ch.Attributes
	}
	for _, a := range ch.Attributes {
		switch v := a.After.(type) {
		case string:
			if !utf8.ValidString(v) {
				return ch.Attributes
			}
		case []string:
			for _, s := range v {
				if !utf8.ValidString(s) {
					return ch.Attributes
				}
			}
		default:
			return ch.Attributes
		}
	}
	return nil
}
