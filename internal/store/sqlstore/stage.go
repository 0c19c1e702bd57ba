package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// stageBatch is how many rows one staging INSERT writes: 500 rows of 3
// parameters stay far below both databases' limits on parameters.
const stageBatch = 500

// lastByExternalID keeps the last of the items that share an external id and
// sorts them by it: one INSERT may not upsert a row twice on PostgreSQL, and
// writers touching rows in one order do not deadlock each other.
func lastByExternalID[T any](items []T, ext func(*T) string) []T {
	idx := make(map[string]int, len(items))
	out := make([]T, 0, len(items))
	for i := range items {
		k := ext(&items[i])
		if j, ok := idx[k]; ok {
			out[j] = items[i]
			continue
		}
		idx[k] = len(out)
		out = append(out, items[i])
	}
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(ext(&a), ext(&b)) })
	return out
}

// stage upserts JSON rows into a staging table, in one transaction.
func stage[T any](ctx context.Context, s *Store, table, runID string, items []T, ext func(*T) string) error {
	if runID == "" {
		return fmt.Errorf("sqlstore: stage into %s: empty run id", table)
	}
	for i := range items {
		if ext(&items[i]) == "" {
			return fmt.Errorf("sqlstore: stage into %s: item %d has no external id", table, i)
		}
	}
	items = lastByExternalID(items, ext)
	if len(items) == 0 {
		return nil
	}
	if s.flavor.pinConn {
		rows := make([][]any, len(items))
		for i := range items {
			data, err := json.Marshal(&items[i])
			if err != nil {
				return fmt.Errorf("sqlstore: stage into %s: %w", table, err)
			}
			rows[i] = []any{runID, ext(&items[i]), string(data)}
		}
		return wrap(s.stageRows(ctx, table, []string{"run_id", "external_id", "data"}, rows,
			`ON CONFLICT (run_id, external_id) DO UPDATE SET data = excluded.data`), s.flavor, "stage into %s", table)
	}
	err := s.withTx(ctx, func(c *conn) error {
		for start := 0; start < len(items); start += stageBatch {
			batch := items[start:min(start+stageBatch, len(items))]
			args := make([]any, 0, 3*len(batch))
			for i := range batch {
				data, err := json.Marshal(&batch[i])
				if err != nil {
					return err
				}
				args = append(args, runID, ext(&batch[i]), string(data))
			}
			err := c.insertRows(ctx, `INSERT INTO `+table+` (run_id, external_id, data) VALUES `, "(?, ?, ?)",
				len(batch), stageBatch, `ON CONFLICT (run_id, external_id) DO UPDATE SET data = excluded.data`, args)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, s.flavor, "stage into %s", table)
}

// StageUsers keeps users for the run; a user staged again replaces the
// earlier version. One call is one transaction.
func (s *Store) StageUsers(ctx context.Context, runID string, users []directory.SourceUser) error {
	return stage(ctx, s, "staged_users", runID, users, func(u *directory.SourceUser) string { return u.ExternalID })
}

// StageGroups keeps groups for the run, as StageUsers does users.
func (s *Store) StageGroups(ctx context.Context, runID string, groups []directory.SourceGroup) error {
	return stage(ctx, s, "staged_groups", runID, groups, func(g *directory.SourceGroup) string { return g.ExternalID })
}

// StageMemberships keeps direct memberships for the run; staging one twice
// keeps one.
func (s *Store) StageMemberships(ctx context.Context, runID string, ms []directory.SourceMembership) error {
	if runID == "" {
		return errors.New("sqlstore: stage memberships: empty run id")
	}
	type key struct{ g, k, m string }
	seen := make(map[key]bool, len(ms))
	keys := make([]key, 0, len(ms))
	for i, m := range ms {
		if m.GroupExternalID == "" || m.MemberExternalID == "" || m.MemberKind == "" {
			return fmt.Errorf("sqlstore: stage memberships: membership %d is incomplete", i)
		}
		k := key{m.GroupExternalID, string(m.MemberKind), m.MemberExternalID}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.g, b.g), cmp.Compare(a.k, b.k), cmp.Compare(a.m, b.m))
	})
	const batchRows = 400
	if s.flavor.pinConn {
		rows := make([][]any, len(keys))
		for i, k := range keys {
			rows[i] = []any{runID, k.g, k.k, k.m}
		}
		return wrap(s.stageRows(ctx, "staged_memberships", []string{"run_id", "group_ext", "member_kind", "member_ext"}, rows,
			`ON CONFLICT DO NOTHING`), s.flavor, "stage memberships")
	}
	err := s.withTx(ctx, func(c *conn) error {
		for start := 0; start < len(keys); start += batchRows {
			batch := keys[start:min(start+batchRows, len(keys))]
			args := make([]any, 0, 4*len(batch))
			for _, k := range batch {
				args = append(args, runID, k.g, k.k, k.m)
			}
			err := c.insertRows(ctx, `INSERT INTO staged_memberships (run_id, group_ext, member_kind, member_ext) VALUES `,
				"(?, ?, ?, ?)", len(batch), batchRows, `ON CONFLICT DO NOTHING`, args)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, s.flavor, "stage memberships")
}

var stagingTables = []string{"staged_users", "staged_groups", "staged_memberships"}

// stageTables are the flavor's staging tables: on SQLite, the users
// prepared too.
func stageTables(f *flavor) []string {
	if f.name == "sqlite" {
		return append(stagingTables[:len(stagingTables):len(stagingTables)], "prep_users", "prep_words")
	}
	return stagingTables
}

// stageKeys matches a run's staging keys: the run id itself, and the keys
// that extend it with a slash, which sort between "RUN/" and "RUN0" ('0'
// follows '/'), so the primary key's index finds them by range.
const stageKeys = `(run_id = ? OR (run_id > ? AND run_id < ?))`

func stageKeyArgs(runID string) []any { return []any{runID, runID + "/", runID + "0"} }

// DropStage deletes everything staged for the run, under its id and the
// keys that extend it.
func (s *Store) DropStage(ctx context.Context, runID string) error {
	err := s.withTx(ctx, func(c *conn) error { return dropStage(ctx, c, runID) })
	return wrap(err, s.flavor, "drop stage of run %q", runID)
}

// DropStage deletes what the run staged, in the transaction.
func (t *tx) DropStage(ctx context.Context, runID string) error {
	return wrap(dropStage(ctx, t.c, runID), t.c.f, "drop stage of run %q", runID)
}

func dropStage(ctx context.Context, c *conn, runID string) error {
	for _, table := range stageTables(c.f) {
		q := `DELETE FROM ` + table + ` WHERE ` + stageKeys
		if c.f.name == "sqlite" {
			only, err := onlyRun(ctx, c, table, runID)
			if err != nil {
				return err
			}
			if only {
				// SQLite empties a table deleted without a WHERE clause page
				// by page, not row by row: a full run's staging, 100,000s of
				// rows, goes in milliseconds.
				q = `DELETE FROM ` + table
			}
		}
		if _, err := c.exec(ctx, q, stageKeyArgs(runID)[:strings.Count(q, "?")]...); err != nil {
			return err
		}
	}
	return nil
}

// onlyRun reports whether the table holds no row but the run's (under its
// id and the keys that extend it, which sort from RUN to RUN0): two reads
// of the primary key's ends.
func onlyRun(ctx context.Context, c *conn, table, runID string) (bool, error) {
	var other bool
	err := c.row(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE run_id < ?) OR EXISTS (SELECT 1 FROM `+table+` WHERE run_id >= ?)`,
		runID, runID+"0").Scan(&other)
	return !other, err
}

// StagedCount counts the rows staged for the run and the keys that extend
// it, or every staged row when runID is "".
func (s *Store) StagedCount(ctx context.Context, runID string) (int, error) {
	total := 0
	for _, table := range stageTables(s.flavor) {
		q, args := `SELECT COUNT(*) FROM `+table, []any(nil)
		if runID != "" {
			q, args = q+` WHERE `+stageKeys, stageKeyArgs(runID)
		}
		var n int
		if err := s.reader.c.row(ctx, q, args...).Scan(&n); err != nil {
			return 0, wrap(err, s.flavor, "count staged rows in %s", table)
		}
		total += n
	}
	return total, nil
}

// sqlLimit is a LIMIT argument: limit, or no limit for 0 or less.
func sqlLimit(limit int) int64 {
	if limit <= 0 {
		return pageLimit(0)
	}
	return int64(limit)
}

// staged pages through a staging table; where, when set, is one more
// condition on its rows (st).
func staged[T any](ctx context.Context, c *conn, table, where, runID, after string, limit int) ([]T, error) {
	rows, err := c.query(ctx, `SELECT data FROM `+table+` st WHERE run_id = ? AND external_id > ? `+where+` ORDER BY external_id LIMIT ?`,
		runID, after, sqlLimit(limit))
	if err != nil {
		return nil, wrap(err, c.f, "read %s", table)
	}
	defer rows.Close()
	var out []T
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return nil, wrap(err, c.f, "read %s", table)
		}
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("sqlstore: read %s: %w", table, err)
		}
		out = append(out, v)
	}
	return out, wrap(rows.Err(), c.f, "read %s", table)
}

func (t *tx) StagedUsers(ctx context.Context, runID, after string, limit int) ([]directory.SourceUser, error) {
	where := ""
	if t.c.f.name == "sqlite" {
		// The users ApplyPreparedUsers created.
		where = `AND NOT EXISTS (SELECT 1 FROM prep_users p WHERE p.run_id = st.run_id AND p.external_id = st.external_id)`
	}
	return staged[directory.SourceUser](ctx, t.c, "staged_users", where, runID, after, limit)
}

func (t *tx) StagedGroups(ctx context.Context, runID, after string, limit int) ([]directory.SourceGroup, error) {
	return staged[directory.SourceGroup](ctx, t.c, "staged_groups", "", runID, after, limit)
}

// The unstaged queries walk the source's links in object id order and stop
// at the page's end, so each page costs its own size, not the source's. An
// object linked twice to the source (a source object recreated under a new
// id) counts once: a page is short only at the end.
var (
	qUnstagedUsers = userSelect(`SELECT * FROM users WHERE id IN (
		SELECT DISTINCT l.user_id FROM user_links l WHERE l.source_id = ? AND l.user_id > ?
		AND NOT EXISTS (SELECT 1 FROM staged_users st WHERE st.run_id = ? AND st.external_id = l.external_id)
		ORDER BY l.user_id LIMIT ?)`, `u.id`)
	qUnstagedGroups = groupSelect(`SELECT * FROM groups WHERE id IN (
		SELECT DISTINCT l.group_id FROM group_links l WHERE l.source_id = ? AND l.group_id > ?
		AND NOT EXISTS (SELECT 1 FROM staged_groups st WHERE st.run_id = ? AND st.external_id = l.external_id)
		ORDER BY l.group_id LIMIT ?)`, `g.id`)
)

func (t *tx) UnstagedUsers(ctx context.Context, sourceID, runID, after string, limit int) ([]directory.User, error) {
	rows, err := t.c.query(ctx, qUnstagedUsers, sourceID, after, runID, sqlLimit(limit))
	if err != nil {
		return nil, wrap(err, t.c.f, "unstaged users")
	}
	users, _, err := readUsers(rows)
	return users, wrap(err, t.c.f, "unstaged users")
}

func (t *tx) UnstagedGroups(ctx context.Context, sourceID, runID, after string, limit int) ([]directory.Group, error) {
	rows, err := t.c.query(ctx, qUnstagedGroups, sourceID, after, runID, sqlLimit(limit))
	if err != nil {
		return nil, wrap(err, t.c.f, "unstaged groups")
	}
	groups, _, err := readGroups(rows)
	return groups, wrap(err, t.c.f, "unstaged groups")
}

// CountLinked counts the source's users and groups out of the trash, each
// once however many of the source's objects link to it.
func (r reader) CountLinked(ctx context.Context, sourceID string) (users, groups int, err error) {
	err = r.c.row(ctx, `SELECT
		(SELECT COUNT(*) FROM users WHERE state <> ? AND id IN (SELECT user_id FROM user_links WHERE source_id = ?)),
		(SELECT COUNT(*) FROM groups WHERE state <> ? AND id IN (SELECT group_id FROM group_links WHERE source_id = ?))`,
		string(directory.StateTrash), sourceID, string(directory.StateTrash), sourceID).Scan(&users, &groups)
	return users, groups, wrap(err, r.c.f, "count objects of source %s", sourceID)
}
