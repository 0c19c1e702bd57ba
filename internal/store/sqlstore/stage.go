package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
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

// DropStage deletes everything staged for the run.
func (s *Store) DropStage(ctx context.Context, runID string) error {
	err := s.withTx(ctx, func(c *conn) error {
		for _, table := range []string{"staged_users", "staged_groups", "staged_memberships"} {
			if _, err := c.exec(ctx, `DELETE FROM `+table+` WHERE run_id = ?`, runID); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, s.flavor, "drop stage of run %q", runID)
}

// sqlLimit is a LIMIT argument: limit, or no limit for 0 or less.
func sqlLimit(limit int) int64 {
	if limit <= 0 {
		return pageLimit(0)
	}
	return int64(limit)
}

func staged[T any](ctx context.Context, c *conn, table, runID, after string, limit int) ([]T, error) {
	rows, err := c.query(ctx, `SELECT data FROM `+table+` WHERE run_id = ? AND external_id > ? ORDER BY external_id LIMIT ?`,
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
	return staged[directory.SourceUser](ctx, t.c, "staged_users", runID, after, limit)
}

func (t *tx) StagedGroups(ctx context.Context, runID, after string, limit int) ([]directory.SourceGroup, error) {
	return staged[directory.SourceGroup](ctx, t.c, "staged_groups", runID, after, limit)
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

// membershipQueries are SyncMemberships' statements for one member kind.
type membershipQueries struct {
	kind                           directory.MemberKind
	removed, delete, added, insert string
}

// newMembershipQueries writes the statements for members of one kind, whose
// links are in the table links (column col) and whose names are the column
// nameCol of the table objects.
//
// The removed and added queries page by keyset in index order (the
// memberships' and the staged rows' primary keys), so a sync reads what it
// changes a page at a time, each page a range scan, never the whole set.
func newMembershipQueries(kind directory.MemberKind, links, col, objects, nameCol string) membershipQueries {
	k := "'" + string(kind) + "'"
	// wanted holds when the run's staged rows, mapped through the source's
	// links, include the membership m. It walks from m to the external ids
	// and then to the staged row, so each check is a few index probes; the
	// CROSS JOINs hold SQLite to that order (without statistics it would
	// rather scan the run's staged rows for every m, which is quadratic),
	// and are plain joins to PostgreSQL.
	wanted := `EXISTS (SELECT 1 FROM group_links gl
		CROSS JOIN ` + links + ` ml
		CROSS JOIN staged_memberships sm
		WHERE gl.source_id = m.source_id AND gl.group_id = m.group_id
		AND ml.source_id = m.source_id AND ml.` + col + ` = m.member_id
		AND sm.run_id = ? AND sm.group_ext = gl.external_id
		AND sm.member_kind = ` + k + ` AND sm.member_ext = ml.external_id)`
	// The run's staged rows mapped through the links, less the memberships
	// the source already owns.
	from := `FROM staged_memberships sm
		JOIN group_links gl ON gl.source_id = ? AND gl.external_id = sm.group_ext
		JOIN ` + links + ` ml ON ml.source_id = gl.source_id AND ml.external_id = sm.member_ext`
	where := `WHERE sm.run_id = ? AND sm.member_kind = ` + k + `
		AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = gl.group_id
			AND m.member_kind = ` + k + ` AND m.member_id = ml.` + col + ` AND m.source_id = gl.source_id)`
	return membershipQueries{
		kind: kind,
		removed: `SELECT m.group_id, g.name, m.member_id, o.` + nameCol + `, m.group_id, m.member_kind, m.member_id
			FROM memberships m JOIN groups g ON g.id = m.group_id JOIN ` + objects + ` o ON o.id = m.member_id
			WHERE m.source_id = ? AND m.member_kind = ` + k + ` AND NOT ` + wanted + `
			AND (m.group_id, m.member_kind, m.member_id) > (?, ?, ?)
			ORDER BY m.group_id, m.member_kind, m.member_id LIMIT ?`,
		delete: `DELETE FROM memberships AS m
			WHERE m.source_id = ? AND m.member_kind = ` + k + ` AND NOT ` + wanted,
		added: `SELECT gl.group_id, g.name, ml.` + col + `, o.` + nameCol + `, sm.group_ext, sm.member_kind, sm.member_ext ` + from + `
			JOIN groups g ON g.id = gl.group_id JOIN ` + objects + ` o ON o.id = ml.` + col + ` ` + where + `
			AND (sm.group_ext, sm.member_kind, sm.member_ext) > (?, ?, ?)
			ORDER BY sm.group_ext, sm.member_kind, sm.member_ext LIMIT ?`,
		insert: `INSERT INTO memberships (group_id, member_kind, member_id, source_id)
			SELECT DISTINCT gl.group_id, ` + k + `, ml.` + col + `, gl.source_id ` + from + ` ` + where + `
			ON CONFLICT DO NOTHING`,
	}
}

var membershipKinds = []membershipQueries{
	newMembershipQueries(directory.MemberUser, "user_links", "user_id", "users", "username"),
	newMembershipQueries(directory.MemberGroup, "group_links", "group_id", "groups", "name"),
}

// membershipPage is how many memberships SyncMemberships hands over at a time.
const membershipPage = 1000

// SyncMemberships makes the memberships the source owns those the run
// staged, mapped through the source's links; staged rows whose group or
// member has no link are ignored. It reads what it will remove, then what
// it will add, a page at a time in index order, handing each page to fn
// with no rows open, and then changes the memberships set-wise.
func (t *tx) SyncMemberships(ctx context.Context, sourceID, runID string, fn func(added bool, page []store.Membership) error) error {
	for _, k := range membershipKinds {
		n, err := t.pageMemberships(ctx, k.kind, k.removed, sourceID, runID, func(p []store.Membership) error { return fn(false, p) })
		if err != nil {
			return wrap(err, t.c.f, "sync memberships: removed %ss", k.kind)
		}
		if n > 0 {
			if _, err := t.c.exec(ctx, k.delete, sourceID, runID); err != nil {
				return wrap(err, t.c.f, "sync memberships: remove %ss", k.kind)
			}
		}
	}
	for _, k := range membershipKinds {
		n, err := t.pageMemberships(ctx, k.kind, k.added, sourceID, runID, func(p []store.Membership) error { return fn(true, p) })
		if err != nil {
			return wrap(err, t.c.f, "sync memberships: added %ss", k.kind)
		}
		if n > 0 {
			if _, err := t.c.exec(ctx, k.insert, sourceID, runID); err != nil {
				return wrap(err, t.c.f, "sync memberships: add %ss", k.kind)
			}
		}
	}
	return nil
}

// pageMemberships runs a keyset-paged query and hands each page to fn after
// closing its rows (pgx cannot write while rows are open).
func (t *tx) pageMemberships(ctx context.Context, kind directory.MemberKind, q, sourceID, runID string, fn func([]store.Membership) error) (int, error) {
	var k1, k2, k3 string
	total := 0
	for {
		rows, err := t.c.query(ctx, q, sourceID, runID, k1, k2, k3, membershipPage)
		if err != nil {
			return total, err
		}
		var page []store.Membership
		for rows.Next() {
			m := store.Membership{MemberKind: kind}
			if err := rows.Scan(&m.GroupID, &m.GroupName, &m.MemberID, &m.MemberName, &k1, &k2, &k3); err != nil {
				rows.Close()
				return total, err
			}
			page = append(page, m)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return total, err
		}
		if len(page) == 0 {
			return total, nil
		}
		total += len(page)
		if err := fn(page); err != nil {
			return total, err
		}
		if len(page) < membershipPage {
			return total, nil
		}
	}
}
