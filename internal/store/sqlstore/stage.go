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

var stagingTables = []string{"staged_users", "staged_groups", "staged_memberships"}

// stageKeys matches a run's staging keys: the run id itself, and the keys
// that extend it with a slash, which sort between "RUN/" and "RUN0" ('0'
// follows '/'), so the primary key's index finds them by range.
const stageKeys = `(run_id = ? OR (run_id > ? AND run_id < ?))`

func stageKeyArgs(runID string) []any { return []any{runID, runID + "/", runID + "0"} }

// DropStage deletes everything staged for the run, under its id and the
// keys that extend it.
func (s *Store) DropStage(ctx context.Context, runID string) error {
	err := s.withTx(ctx, func(c *conn) error {
		for _, table := range stagingTables {
			if _, err := c.exec(ctx, `DELETE FROM `+table+` WHERE `+stageKeys, stageKeyArgs(runID)...); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(err, s.flavor, "drop stage of run %q", runID)
}

// StagedCount counts the rows staged for the run and the keys that extend
// it, or every staged row when runID is "".
func (s *Store) StagedCount(ctx context.Context, runID string) (int, error) {
	total := 0
	for _, table := range stagingTables {
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

// SyncMemberships works in three steps, each cheap whatever the number of
// memberships and whatever the planner knows:
//
//  1. Two set differences, each one statement (EXCEPT hashes or sorts,
//     never loops over one side for each row of the other), write what to
//     remove and what to add into a temporary table, sync_diff.
//  2. Pages of sync_diff, read by keyset on its primary key (a range scan
//     each), go to fn with no rows open.
//  3. Two set-wise statements apply the differences to memberships.
//
// PostgreSQL plans from statistics, which tables filled within the apply's
// own transaction (a first sync) or with autovacuum off do not have: it
// then guesses that few rows match and loops. So its flavor ANALYZEs the
// tables first (ANALYZE counts the transaction's own rows).

// desiredSQL selects the memberships of one member kind that the run
// staged, mapped through the source's links, as (group_id, member_kind,
// member_id). Parameters: source id, run id.
func desiredSQL(kind directory.MemberKind, links, col string) string {
	return `SELECT gl.group_id AS group_id, sm.member_kind AS member_kind, ml.` + col + ` AS member_id
		FROM staged_memberships sm
		JOIN group_links gl ON gl.source_id = ? AND gl.external_id = sm.group_ext
		JOIN ` + links + ` ml ON ml.source_id = gl.source_id AND ml.external_id = sm.member_ext
		WHERE sm.run_id = ? AND sm.member_kind = '` + string(kind) + `'`
}

// ownedSQL selects the memberships of one member kind that the source owns.
// Parameter: source id.
func ownedSQL(kind directory.MemberKind) string {
	return `SELECT group_id, member_kind, member_id FROM memberships
		WHERE source_id = ? AND member_kind = '` + string(kind) + `'`
}

type membershipKind struct {
	kind directory.MemberKind
	// removed and added fill sync_diff; parameters: source id, source id,
	// run id (removed), source id, run id, source id (added).
	removed, added string
}

func newMembershipKind(kind directory.MemberKind, links, col string) membershipKind {
	return membershipKind{
		kind: kind,
		removed: `INSERT INTO sync_diff (added, group_id, member_kind, member_id)
			SELECT 0, d.group_id, d.member_kind, d.member_id FROM (
				` + ownedSQL(kind) + ` EXCEPT ` + desiredSQL(kind, links, col) + `) d`,
		added: `INSERT INTO sync_diff (added, group_id, member_kind, member_id)
			SELECT 1, d.group_id, d.member_kind, d.member_id FROM (
				` + desiredSQL(kind, links, col) + ` EXCEPT ` + ownedSQL(kind) + `) d`,
	}
}

var membershipKinds = []membershipKind{
	newMembershipKind(directory.MemberUser, "user_links", "user_id"),
	newMembershipKind(directory.MemberGroup, "group_links", "group_id"),
}

// The statements on sync_diff run unprepared: a statement prepared on the
// pool would meet a connection where the temporary table does not exist.
const (
	qDiffPage = `SELECT d.group_id, g.name, d.member_kind, d.member_id,
			COALESCE((SELECT u.username FROM users u WHERE d.member_kind = 'user' AND u.id = d.member_id),
				(SELECT mg.name FROM groups mg WHERE d.member_kind = 'group' AND mg.id = d.member_id), '')
		FROM sync_diff d JOIN groups g ON g.id = d.group_id
		WHERE d.added = ? AND (d.group_id, d.member_kind, d.member_id) > (?, ?, ?)
		ORDER BY d.group_id, d.member_kind, d.member_id LIMIT ?`
	qDiffDelete = `DELETE FROM memberships WHERE source_id = ?
		AND (group_id, member_kind, member_id) IN (SELECT group_id, member_kind, member_id FROM sync_diff WHERE added = 0)`
	qDiffInsert = `INSERT INTO memberships (group_id, member_kind, member_id, source_id)
		SELECT group_id, member_kind, member_id, ? FROM sync_diff WHERE added = 1
		ON CONFLICT DO NOTHING`
)

// membershipPage is how many memberships SyncMemberships hands over at a time.
const membershipPage = 1000

// SyncMemberships makes the memberships the source owns those the run
// staged, mapped through the source's links; staged rows whose group or
// member has no link are ignored. It hands fn what it will remove, then
// what it will add, a page at a time ordered by group id, member kind and
// member id, with no rows open, and then changes the memberships set-wise.
func (t *tx) SyncMemberships(ctx context.Context, sourceID, runID string, fn func(added bool, page []store.Membership) error) error {
	c := t.c
	if err := c.f.analyze(ctx, c, "staged_memberships", "memberships", "user_links", "group_links"); err != nil {
		return wrap(err, c.f, "sync memberships: analyze")
	}
	for _, q := range []string{c.f.createDiff, `DELETE FROM sync_diff`} {
		if _, err := c.execOnce(ctx, q); err != nil {
			return wrap(err, c.f, "sync memberships: diff table")
		}
	}
	var removed, added int64
	for _, k := range membershipKinds {
		n, err := affected(c.execOnce(ctx, k.removed, sourceID, sourceID, runID))
		if err != nil {
			return wrap(err, c.f, "sync memberships: removed %ss", k.kind)
		}
		removed += n
		if n, err = affected(c.execOnce(ctx, k.added, sourceID, runID, sourceID)); err != nil {
			return wrap(err, c.f, "sync memberships: added %ss", k.kind)
		}
		added += n
	}
	if err := c.f.analyze(ctx, c, "sync_diff"); err != nil {
		return wrap(err, c.f, "sync memberships: analyze")
	}
	for _, step := range []struct {
		added  int
		n      int64
		change string
	}{{0, removed, qDiffDelete}, {1, added, qDiffInsert}} {
		if step.n == 0 {
			continue
		}
		if err := t.diffPages(ctx, step.added, func(p []store.Membership) error { return fn(step.added == 1, p) }); err != nil {
			return wrap(err, c.f, "sync memberships")
		}
		if _, err := c.execOnce(ctx, step.change, sourceID); err != nil {
			return wrap(err, c.f, "sync memberships: apply")
		}
	}
	if _, err := c.execOnce(ctx, `DROP TABLE sync_diff`); err != nil {
		return wrap(err, c.f, "sync memberships: drop diff table")
	}
	return nil
}

// diffPages hands sync_diff's rows of one side to fn a page at a time,
// closing each page's rows first (pgx cannot write while rows are open).
func (t *tx) diffPages(ctx context.Context, added int, fn func([]store.Membership) error) error {
	var g, k, m string
	for {
		rows, err := t.c.queryOnce(ctx, qDiffPage, added, g, k, m, membershipPage)
		if err != nil {
			return err
		}
		var page []store.Membership
		for rows.Next() {
			var ms store.Membership
			if err := rows.Scan(&ms.GroupID, &ms.GroupName, &ms.MemberKind, &ms.MemberID, &ms.MemberName); err != nil {
				rows.Close()
				return err
			}
			page = append(page, ms)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < membershipPage {
			return nil
		}
		last := page[len(page)-1]
		g, k, m = last.GroupID, string(last.MemberKind), last.MemberID
	}
}
