package sqlstore

import (
	"context"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

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
// The differences are between two sets of (group_id, member_kind,
// member_id), both limited to the call's reach:
//   - owned: the memberships the source owns;
//   - desired: the memberships the run staged, mapped through the source's
//     links, between a group and a member that are both out of the trash.
//
// What differs between reaches is only how each set is found cheaply: the
// whole source's memberships, one user's (an index on the member), or the
// pairs the run staged (joined to memberships by their primary key).
//
// PostgreSQL plans from statistics, which tables filled within the apply's
// own transaction (a first sync) or with autovacuum off do not have: it
// then guesses that few rows match and loops. So its flavor ANALYZEs the
// tables first (ANALYZE counts the transaction's own rows) for a whole
// source's sync; the narrow reaches read few rows by index either way.

// query is a statement with its arguments.
type query struct {
	sql  string
	args []any
}

// memberKind is one kind of member: its link table and the link's column.
type memberKind struct {
	kind         directory.MemberKind
	links, col   string
	objectsTable string
}

var memberKinds = []memberKind{
	{directory.MemberUser, "user_links", "user_id", "users"},
	{directory.MemberGroup, "group_links", "group_id", "groups"},
}

// stagedPairs maps staged memberships of the kind through the source's
// links, from FROM on; the caller adds the select list and conditions.
func (k memberKind) stagedPairs() string {
	return ` FROM staged_memberships sm
		JOIN group_links gl ON gl.source_id = ? AND gl.external_id = sm.group_ext
		JOIN ` + k.links + ` ml ON ml.source_id = gl.source_id AND ml.external_id = sm.member_ext`
}

// desired selects the memberships of the kind the run staged, between a
// group and a member both linked to the source and out of the trash. Out
// of the trash is not in the account's trash, a set read once from an
// index (account, state): a join to each row's group and member read two
// rows at random places of their tables for every membership, the most of
// a first sync's differences.
func (k memberKind) desired(sourceID, runID string, reach store.Reach) query {
	trashed := func(table string) string {
		return `(SELECT id FROM ` + table + ` WHERE account_id = (SELECT account_id FROM sources WHERE id = ?)
			AND state = '` + string(directory.StateTrash) + `')`
	}
	q := query{`SELECT gl.group_id AS group_id, sm.member_kind AS member_kind, ml.` + k.col + ` AS member_id` + k.stagedPairs() + `
		WHERE sm.run_id = ? AND sm.member_kind = '` + string(k.kind) + `'
		AND gl.group_id NOT IN ` + trashed("groups") + ` AND ml.` + k.col + ` NOT IN ` + trashed(k.objectsTable),
		[]any{sourceID, runID, sourceID, sourceID}}
	if reach.UserID != "" {
		q.sql += ` AND ml.` + k.col + ` = ?`
		q.args = append(q.args, reach.UserID)
	}
	return q
}

// owned selects the memberships of the kind the source owns in the reach.
func (k memberKind) owned(sourceID, runID string, reach store.Reach) query {
	base := `SELECT group_id, member_kind, member_id FROM memberships WHERE source_id = ? AND member_kind = '` + string(k.kind) + `'`
	switch {
	case reach.UserID != "":
		return query{base + ` AND member_id = ?`, []any{sourceID, reach.UserID}}
	case reach.Ended != "":
		return query{`SELECT m.group_id, m.member_kind, m.member_id` + k.stagedPairs() + `
			JOIN memberships m ON m.group_id = gl.group_id AND m.member_kind = sm.member_kind
				AND m.member_id = ml.` + k.col + ` AND m.source_id = gl.source_id
			WHERE (sm.run_id = ? OR sm.run_id = ?) AND sm.member_kind = '` + string(k.kind) + `'`,
			[]any{sourceID, runID, reach.Ended}}
	}
	return query{base, []any{sourceID}}
}

// diff fills sync_diff with a minus b, marked added or not.
func diff(added int, a, b query) query {
	return query{`INSERT INTO sync_diff (added, group_id, member_kind, member_id)
		SELECT ?, d.group_id, d.member_kind, d.member_id FROM (` + a.sql + ` EXCEPT ` + b.sql + `) d`,
		append(append([]any{added}, a.args...), b.args...)}
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
	qDiffInsertSorted = `INSERT INTO memberships (group_id, member_kind, member_id, source_id)
		SELECT group_id, member_kind, member_id, ? FROM sync_diff WHERE added = 1
		ORDER BY group_id, member_kind, member_id
		ON CONFLICT DO NOTHING`
)

// membershipPage is how many memberships SyncMemberships hands over at a time.
const membershipPage = 1000

// SyncMemberships makes the memberships the source owns in the reach those
// the run staged between live objects, mapped through the source's links.
// It hands fn what it will remove, then what it will add, a page at a time
// ordered by group id, member kind and member id, with no rows open, and
// then changes the memberships set-wise.
func (t *tx) SyncMemberships(ctx context.Context, sourceID, runID string, reach store.Reach, fn func(added bool, page []store.Membership) error) error {
	removed, added, err := t.fillDiff(ctx, sourceID, runID, reach)
	if err != nil {
		return err
	}
	for _, side := range diffSides(removed, added) {
		if err := t.diffPages(ctx, side, func(p []store.Membership) error { return fn(side == 1, p) }); err != nil {
			return wrap(err, t.c.f, "sync memberships")
		}
		if err := t.applyDiff(ctx, sourceID, side); err != nil {
			return err
		}
	}
	return t.dropDiff(ctx)
}

// SyncMembershipsLogged is SyncMemberships with the changes and their
// events written by two INSERT ... SELECT statements from sync_diff.
func (t *tx) SyncMembershipsLogged(ctx context.Context, sourceID, runID string, reach store.Reach, log store.MemberLog) (int, int, error) {
	removed, added, err := t.fillDiff(ctx, sourceID, runID, reach)
	if err != nil {
		return 0, 0, err
	}
	err = withoutIndexes(ctx, t.c, membershipIndexes(removed+added), func() error {
		if removed+added > 0 {
			if err := t.logDiff(ctx, sourceID, log); err != nil {
				return wrap(err, t.c.f, "sync memberships: record changes")
			}
		}
		for _, side := range diffSides(removed, added) {
			if err := t.applyDiff(ctx, sourceID, side); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return int(removed), int(added), t.dropDiff(ctx)
}

// diffSides are the sides of sync_diff (its added column) that hold rows,
// removals first.
func diffSides(removed, added int64) []int {
	var sides []int
	if removed > 0 {
		sides = append(sides, 0)
	}
	if added > 0 {
		sides = append(sides, 1)
	}
	return sides
}

// membershipIndexes are the indexes that n membership changes and their
// memberships update out of their order (withoutIndexes): the changes'
// by user and the memberships' by member.
func membershipIndexes(n int64) []bulkIndex {
	return []bulkIndex{
		{"changes", n, []string{"changes_user"}},
		{"memberships", n, []string{"memberships_member"}},
	}
}

// fillDiff fills sync_diff with what the reach's memberships lack (added
// 1) and have too many (added 0), and counts them.
func (t *tx) fillDiff(ctx context.Context, sourceID, runID string, reach store.Reach) (removed, added int64, err error) {
	c := t.c
	if reach == (store.Reach{}) {
		if err := c.f.analyze(ctx, c, "staged_memberships", "memberships", "user_links", "group_links"); err != nil {
			return 0, 0, wrap(err, c.f, "sync memberships: analyze")
		}
	}
	for _, q := range []string{c.f.createDiff, `DELETE FROM sync_diff`} {
		if _, err := c.execOnce(ctx, q); err != nil {
			return 0, 0, wrap(err, c.f, "sync memberships: diff table")
		}
	}
	for _, k := range memberKinds {
		if reach.UserID != "" && k.kind != directory.MemberUser {
			continue
		}
		owned, desired := k.owned(sourceID, runID, reach), k.desired(sourceID, runID, reach)
		for _, d := range []struct {
			q query
			n *int64
		}{{diff(0, owned, desired), &removed}, {diff(1, desired, owned), &added}} {
			if c.f.sortInserts {
				d.q.sql += ` ORDER BY 2, 3, 4`
			}
			n, err := affected(c.execOnce(ctx, d.q.sql, d.q.args...))
			if err != nil {
				return 0, 0, wrap(err, c.f, "sync memberships: %s differences", k.kind)
			}
			*d.n += n
		}
	}
	if err := c.f.analyze(ctx, c, "sync_diff"); err != nil {
		return 0, 0, wrap(err, c.f, "sync memberships: analyze")
	}
	return removed, added, nil
}

// applyDiff removes (added 0) or adds (added 1) sync_diff's memberships.
func (t *tx) applyDiff(ctx context.Context, sourceID string, added int) error {
	change := qDiffDelete
	switch {
	case added == 1 && t.c.f.sortInserts:
		change = qDiffInsertSorted
	case added == 1:
		change = qDiffInsert
	}
	if _, err := t.c.execOnce(ctx, change, sourceID); err != nil {
		return wrap(err, t.c.f, "sync memberships: apply")
	}
	return nil
}

func (t *tx) dropDiff(ctx context.Context) error {
	if _, err := t.c.execOnce(ctx, `DROP TABLE sync_diff`); err != nil {
		return wrap(err, t.c.f, "sync memberships: drop diff table")
	}
	return nil
}

// diffRows reads sync_log, sync_diff's rows numbered as the run's next
// changes (removals first, each side by group id, member kind and member
// id), with the names they show: the SELECT both logDiff statements read,
// in sync_log's order (n), which needs no sort.
const diffRows = `SELECT l.seq AS n, ? + l.seq AS seq,
		l.added, l.group_id, g.name AS group_name, l.member_kind, l.member_id,
		COALESCE(u.username, mg.name, '') AS member_name
	FROM sync_log l JOIN groups g ON g.id = l.group_id
	LEFT JOIN users u ON l.member_kind = 'user' AND u.id = l.member_id
	LEFT JOIN groups mg ON l.member_kind = 'group' AND mg.id = l.member_id`

// logDiff records sync_diff's rows as changes of the run and their events,
// in the shapes the engine gives one membership change (its Change and its
// event's body), with the event id made of the run's id and the change's
// number.
func (t *tx) logDiff(ctx context.Context, sourceID string, log store.MemberLog) error {
	c, runID := t.c, log.RunID
	var last int64
	if err := c.row(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes WHERE run_id = ?`, runID).Scan(&last); err != nil {
		return err
	}
	// Numbered once into a table rather than by a window function in each
	// statement: SQLite holds a window's whole partition in memory, which
	// at a first sync is every membership of the tenant.
	for _, q := range []string{c.f.createLog, `DELETE FROM sync_log`, c.f.fillLog} {
		if _, err := c.execOnce(ctx, q); err != nil {
			return err
		}
	}
	defer c.execOnce(ctx, `DROP TABLE sync_log`)
	obj, str := c.f.jsonObject, func(s string) string { return `'` + s + `'` }
	member := obj(str("kind"), "x.member_kind", str("id"), "x.member_id", str("name"), "x.member_name")
	action := `CASE x.added WHEN 1 THEN ` + str(string(directory.ActionMemberAdded)) + ` ELSE ` + str(string(directory.ActionMemberRemoved)) + ` END`
	// As encodeChange stores a change: the run and the number are columns,
	// the detail is rebuilt from the member.
	change := obj(str("object_kind"), str(string(directory.MemberGroup)),
		str("object_id"), "x.group_id", str("name"), "x.group_name", str("action"), action, str("member"), member)
	// user_id: a user's history (UserChanges) finds its memberships too.
	_, err := c.execOnce(ctx, `INSERT INTO changes (run_id, seq, data, user_id)
		SELECT ?, x.seq, `+c.f.jsonText(change)+`, CASE WHEN x.member_kind = 'user' THEN x.member_id END
		FROM (`+diffRows+`) x ORDER BY x.n`, runID, last)
	if err != nil {
		return err
	}
	if err := c.f.lockFeed(ctx, c, log.AccountID); err != nil {
		return err
	}
	// The event refers to its change, keeping only the source's name: the
	// feed rebuilds its body from the change (Events).
	body := obj(str("source"), "CAST(? AS TEXT)")
	typ := `CASE WHEN x.added = 1 AND x.member_kind = 'user' THEN ` + str(directory.EventGroupUserAdded) + `
		WHEN x.added = 1 THEN ` + str(directory.EventGroupGroupAdded) + `
		WHEN x.member_kind = 'user' THEN ` + str(directory.EventGroupUserRemoved) + `
		ELSE ` + str(directory.EventGroupGroupRemoved) + ` END`
	// The events need no name: sync_log alone, in its order, no join.
	_, err = c.execOnce(ctx, `INSERT INTO events (id, account_id, type, time, source_id, run_id, data, change_seq)
		SELECT 'evt_' || CAST(? AS TEXT) || '-' || CAST(x.seq AS TEXT), ?, `+typ+`, ?, ?, ?, `+c.f.jsonText(body)+`, x.seq
		FROM (SELECT l.seq AS n, ? + l.seq AS seq, l.added, l.member_kind FROM sync_log l) x ORDER BY x.n`,
		runID, log.AccountID, timeArg(log.Time), sourceID, runID, log.SourceName, last)
	return err
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
