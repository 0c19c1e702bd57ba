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

// groupCols are a group's columns, read from a row source named g, joined
// with its links as for users.
const groupCols = `g.id, g.account_id, g.name, g.description, g.mail, g.group_types, g.security_enabled,
	g.mail_enabled, g.dn, g.state, g.created_at, g.updated_at, g.trashed_at, g.name_key`

func groupSelect(inner, order string) string {
	return `SELECT ` + groupCols + `, l.source_id, s.name, l.external_id
	FROM (` + inner + `) g
	LEFT JOIN group_links l ON l.group_id = g.id
	LEFT JOIN sources s ON s.id = l.source_id
	ORDER BY ` + order + `, s.name_key, l.external_id`
}

func readGroups(rows *sql.Rows) ([]directory.Group, []string, error) {
	defer rows.Close()
	var (
		out  []directory.Group
		keys []string
	)
	for rows.Next() {
		var (
			g                             directory.Group
			types, gkey                   string
			linkSource, linkName, linkExt sql.NullString
		)
		a := &g.GroupAttributes
		err := rows.Scan(&g.ID, &g.AccountID, &a.Name, &a.Description, &a.Mail, &types, &a.SecurityEnabled,
			&a.MailEnabled, &a.DN, &g.State, nullTime{&g.CreatedAt}, nullTime{&g.UpdatedAt}, nullTime{&g.TrashedAt}, &gkey,
			&linkSource, &linkName, &linkExt)
		if err != nil {
			return nil, nil, err
		}
		link := directory.SourceLink{SourceID: linkSource.String, Source: linkName.String, ExternalID: linkExt.String}
		if n := len(out); n > 0 && out[n-1].ID == g.ID {
			out[n-1].Sources = append(out[n-1].Sources, link)
			continue
		}
		if linkSource.Valid {
			g.Sources = []directory.SourceLink{link}
		}
		if a.GroupTypes, err = parseList(types); err != nil {
			return nil, nil, fmt.Errorf("group %s: %w", g.ID, err)
		}
		out = append(out, g)
		keys = append(keys, gkey)
	}
	return out, keys, rows.Err()
}

func (r reader) oneGroup(ctx context.Context, what string, query string, args ...any) (directory.Group, error) {
	rows, err := r.c.query(ctx, query, args...)
	if err != nil {
		return directory.Group{}, wrap(err, r.c.f, "%s", what)
	}
	groups, _, err := readGroups(rows)
	if err != nil {
		return directory.Group{}, wrap(err, r.c.f, "%s", what)
	}
	if len(groups) == 0 {
		return directory.Group{}, wrap(sql.ErrNoRows, r.c.f, "%s", what)
	}
	return groups[0], nil
}

var (
	qGroup       = groupSelect(`SELECT * FROM groups WHERE account_id = ? AND id = ?`, `g.id`)
	qGroupByLink = groupSelect(`SELECT groups.* FROM group_links gl JOIN groups ON groups.id = gl.group_id
		WHERE gl.source_id = ? AND gl.external_id = ?`, `g.id`)
	qGroupByName = groupSelect(`SELECT * FROM groups WHERE account_id = ? AND name_key = ? ORDER BY id LIMIT 1`, `g.id`)
)

func (r reader) Group(ctx context.Context, accountID, id string) (directory.Group, error) {
	return r.oneGroup(ctx, fmt.Sprintf("group %q", id), qGroup, accountID, id)
}

func (r reader) GroupByLink(ctx context.Context, sourceID, externalID string) (directory.Group, error) {
	return r.oneGroup(ctx, fmt.Sprintf("group linked to %q", externalID), qGroupByLink, sourceID, externalID)
}

func (r reader) GroupByName(ctx context.Context, accountID, name string) (directory.Group, error) {
	return r.oneGroup(ctx, fmt.Sprintf("group %q", name), qGroupByName, accountID, key(name))
}

func (r reader) Groups(ctx context.Context, accountID string, q store.GroupQuery) (store.Page[directory.Group], error) {
	var page store.Page[directory.Group]
	inner, args := listFilter("groups", "group_links", "group_id", accountID, q.States, q.SourceID, q.Search)
	if q.Name != "" {
		inner += ` AND name_key = ?`
		args = append(args, key(q.Name))
	}
	if q.After != "" {
		k, id, err := decodeCursor(q.After)
		if err != nil {
			return page, fmt.Errorf("sqlstore: groups: %w", err)
		}
		// The first term bounds the index range (an OR alone makes
		// SQLite scan the account from its start on every page).
		inner += ` AND name_key >= ? AND (name_key > ? OR id > ?)`
		args = append(args, k, k, id)
	}
	inner += ` ORDER BY name_key, id LIMIT ?`
	args = append(args, pageLimit(q.Limit))
	rows, err := r.c.query(ctx, groupSelect(inner, `g.name_key, g.id`), args...)
	if err != nil {
		return page, wrap(err, r.c.f, "groups")
	}
	groups, keys, err := readGroups(rows)
	if err != nil {
		return page, wrap(err, r.c.f, "groups")
	}
	if q.Limit > 0 && len(groups) > q.Limit {
		groups = groups[:q.Limit]
		page.Next = encodeCursor(keys[q.Limit-1], groups[q.Limit-1].ID)
	}
	page.Items = groups
	return page, nil
}

const groupWriteCols = `name, name_key, description, mail, search_key, group_types, security_enabled,
	mail_enabled, dn, state, trashed_at`

func groupArgs(g *directory.Group) ([]any, error) {
	a := &g.GroupAttributes
	types, err := listArg(a.GroupTypes)
	if err != nil {
		return nil, err
	}
	return []any{
		a.Name, key(a.Name), a.Description, a.Mail, key(a.Name) + "\n" + key(a.Mail), types, a.SecurityEnabled,
		a.MailEnabled, a.DN, string(g.State), timeArg(g.TrashedAt),
	}, nil
}

// CreateGroup adds g to its account, setting its ID and times; an empty
// State is active. Group names need not be unique.
func (t *tx) CreateGroup(ctx context.Context, g *directory.Group) error {
	if g.Name == "" {
		return errors.New("sqlstore: create group: empty name")
	}
	if err := t.c.checkAccount(ctx, g.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create group %q: %w", g.Name, err)
	}
	if g.State == "" {
		g.State = directory.StateActive
	}
	args, err := groupArgs(g)
	if err != nil {
		return fmt.Errorf("sqlstore: create group %q: %w", g.Name, err)
	}
	id, now := newID(), t.c.s.now()
	args = append(args, id, g.AccountID, now, now)
	_, err = t.c.exec(ctx, `INSERT INTO groups (`+groupWriteCols+`, id, account_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return wrap(err, t.c.f, "create group %q", g.Name)
	}
	g.ID, g.CreatedAt, g.UpdatedAt, g.Sources = id, now, now, nil
	return nil
}

// UpdateGroup writes every field of g but ID, AccountID, Sources and
// CreatedAt; UpdatedAt is the store's clock.
func (t *tx) UpdateGroup(ctx context.Context, g directory.Group) error {
	if g.Name == "" {
		return errors.New("sqlstore: update group: empty name")
	}
	args, err := groupArgs(&g)
	if err != nil {
		return fmt.Errorf("sqlstore: update group %q: %w", g.Name, err)
	}
	args = append(args, t.c.s.now(), g.ID, g.AccountID)
	n, err := affected(t.c.exec(ctx, `UPDATE groups SET (`+groupWriteCols+`, updated_at) =
		(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ? AND account_id = ?`, args...))
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return wrap(err, t.c.f, "update group %q", g.Name)
}

// Members lists a group's members. Transitively, it follows nested groups
// with a recursive query whose UNION drops rows already reached, so a cycle
// ends; the group itself is listed when a cycle leads back to it, as it is
// then, through nesting, a member of itself. Users in the trash are not
// members; groups in the trash still are, and are followed. Groups come
// before users ("group" < "user"), then by name, case-insensitively.
func (r reader) Members(ctx context.Context, accountID, groupID string, transitive bool) ([]directory.Member, error) {
	p, err := r.MemberPage(ctx, accountID, groupID, store.MemberQuery{Transitive: transitive})
	return p.Items, err
}

// MemberPage is a page of Members: the walk is the database's, and so is
// the page's cut (a keyset on kind, name key and id), so no more than a
// page leaves it.
func (r reader) MemberPage(ctx context.Context, accountID, groupID string, q store.MemberQuery) (store.Page[directory.Member], error) {
	var one int
	if err := r.c.row(ctx, `SELECT 1 FROM groups WHERE account_id = ? AND id = ?`, accountID, groupID).Scan(&one); err != nil {
		return store.Page[directory.Member]{}, wrap(err, r.c.f, "members of group %q", groupID)
	}
	reach := `reach(kind, id) AS (SELECT member_kind, member_id FROM memberships WHERE group_id = ?)`
	if q.Transitive {
		reach = `RECURSIVE reach(kind, id) AS (
			SELECT member_kind, member_id FROM memberships WHERE group_id = ?
			UNION
			SELECT m.member_kind, m.member_id FROM reach r JOIN memberships m ON m.group_id = r.id
			WHERE r.kind = 'group')`
	}
	// The UNION above also makes each (kind, id) appear once when several
	// sources own the same membership.
	stmt := `WITH ` + reach + `
		SELECT kind, id, name, k FROM (
			SELECT DISTINCT 'user' AS kind, u.id AS id, u.username AS name, u.username_key AS k
			FROM reach r JOIN users u ON u.id = r.id
			WHERE r.kind = 'user' AND u.account_id = ? AND u.state <> ?
			UNION ALL
			SELECT DISTINCT 'group', g.id, g.name, g.name_key
			FROM reach r JOIN groups g ON g.id = r.id
			WHERE r.kind = 'group' AND g.account_id = ?) x`
	args := []any{groupID, accountID, string(directory.StateTrash), accountID}
	if q.After != "" {
		sortKey, id, err := decodeCursor(q.After)
		kind, k, ok := strings.Cut(sortKey, "\x00")
		if err != nil || !ok {
			return store.Page[directory.Member]{}, store.ErrInvalidCursor
		}
		stmt += ` WHERE kind > ? OR (kind = ? AND (k > ? OR (k = ? AND id > ?)))`
		args = append(args, kind, kind, k, k, id)
	}
	stmt += ` ORDER BY kind, k, id LIMIT ?`
	args = append(args, pageLimit(q.Limit))
	rows, err := r.c.query(ctx, stmt, args...)
	if err != nil {
		return store.Page[directory.Member]{}, wrap(err, r.c.f, "members of group %q", groupID)
	}
	defer rows.Close()
	var out []directory.Member
	var keys []string
	for rows.Next() {
		var m directory.Member
		var k string
		if err := rows.Scan(&m.Kind, &m.ID, &m.Name, &k); err != nil {
			return store.Page[directory.Member]{}, wrap(err, r.c.f, "members of group %q", groupID)
		}
		out = append(out, m)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return store.Page[directory.Member]{}, wrap(err, r.c.f, "members of group %q", groupID)
	}
	page := store.Page[directory.Member]{Items: out}
	if q.Limit > 0 && len(out) > q.Limit {
		last := out[q.Limit-1]
		page.Items = out[:q.Limit]
		page.Next = encodeCursor(string(last.Kind)+"\x00"+keys[q.Limit-1], last.ID)
	}
	return page, nil
}

// GroupsOf lists the groups a user is in, directly or through nesting.
func (r reader) GroupsOf(ctx context.Context, accountID, userID string, transitive bool) ([]directory.Group, error) {
	p, err := r.GroupsOfPage(ctx, accountID, userID, store.MemberQuery{Transitive: transitive})
	return p.Items, err
}

// GroupsOfPage is a page of GroupsOf, cut by the database (a keyset on
// the group's name key and id).
func (r reader) GroupsOfPage(ctx context.Context, accountID, userID string, q store.MemberQuery) (store.Page[directory.Group], error) {
	up := `up(id) AS (SELECT group_id FROM memberships WHERE member_kind = 'user' AND member_id = ?)`
	if q.Transitive {
		up = `RECURSIVE up(id) AS (
			SELECT group_id FROM memberships WHERE member_kind = 'user' AND member_id = ?
			UNION
			SELECT m.group_id FROM up JOIN memberships m ON m.member_kind = 'group' AND m.member_id = up.id)`
	}
	inner := `SELECT * FROM groups WHERE account_id = ? AND state <> ? AND id IN (WITH ` + up + ` SELECT id FROM up)`
	args := []any{accountID, string(directory.StateTrash), userID}
	if q.After != "" {
		k, id, err := decodeCursor(q.After)
		if err != nil {
			return store.Page[directory.Group]{}, err
		}
		inner += ` AND (name_key > ? OR (name_key = ? AND id > ?))`
		args = append(args, k, k, id)
	}
	inner += ` ORDER BY name_key, id LIMIT ?`
	args = append(args, pageLimit(q.Limit))
	rows, err := r.c.query(ctx, groupSelect(inner, `g.name_key, g.id`), args...)
	if err != nil {
		return store.Page[directory.Group]{}, wrap(err, r.c.f, "groups of user %q", userID)
	}
	groups, keys, err := readGroups(rows)
	if err != nil {
		return store.Page[directory.Group]{}, wrap(err, r.c.f, "groups of user %q", userID)
	}
	page := store.Page[directory.Group]{Items: groups}
	if q.Limit > 0 && len(groups) > q.Limit {
		page.Items = groups[:q.Limit]
		page.Next = encodeCursor(keys[q.Limit-1], groups[q.Limit-1].ID)
	}
	return page, nil
}
