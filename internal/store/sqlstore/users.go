package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// userCols are a user's columns, read from a row source named u. Each
// user query joins the user's links: one row per link, or one with NULL
// link columns for a user without any.
const userCols = `u.id, u.account_id, u.username, u.email, u.display_name, u.given_name, u.surname,
	u.job_title, u.department, u.mobile_phone, u.business_phones, u.user_type, u.licenses,
	u.proxy_addresses, u.immutable_id, u.account_name, u.dn, u.enabled, u.state, u.tags, u.notes,
	u.created_at, u.updated_at, u.trashed_at, u.username_key`

// userSelect reads the users that inner (a SELECT of users rows) yields,
// with their links, in the given order of u's columns.
func userSelect(inner, order string) string {
	return `SELECT ` + userCols + `, l.source_id, s.name, l.external_id
	FROM (` + inner + `) u
	LEFT JOIN user_links l ON l.user_id = u.id
	LEFT JOIN sources s ON s.id = l.source_id
	ORDER BY ` + order + `, s.name_key, l.external_id`
}

// listArg encodes a list-valued attribute: a JSON array, "" when empty.
func listArg(l []string) (string, error) {
	if len(l) == 0 {
		return "", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

func parseList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var l []string
	err := json.Unmarshal([]byte(s), &l)
	return l, err
}

// readUsers reads users from rows as userSelect lays them out, merging
// each user's link rows. It closes rows.
func readUsers(rows *sql.Rows) ([]directory.User, []string, error) {
	defer rows.Close()
	var (
		out  []directory.User
		keys []string // username_key of each user, for cursors
	)
	for rows.Next() {
		var (
			u                             directory.User
			phones, lics, proxies, tags   string
			ukey                          string
			linkSource, linkName, linkExt sql.NullString
		)
		a := &u.UserAttributes
		err := rows.Scan(&u.ID, &u.AccountID, &a.Username, &a.Email, &a.DisplayName, &a.GivenName, &a.Surname,
			&a.JobTitle, &a.Department, &a.MobilePhone, &phones, &a.UserType, &lics,
			&proxies, &a.ImmutableID, &a.AccountName, &a.DN, &u.Enabled, &u.State, &tags, &u.Notes,
			nullTime{&u.CreatedAt}, nullTime{&u.UpdatedAt}, nullTime{&u.TrashedAt}, &ukey,
			&linkSource, &linkName, &linkExt)
		if err != nil {
			return nil, nil, err
		}
		link := directory.SourceLink{SourceID: linkSource.String, Source: linkName.String, ExternalID: linkExt.String}
		if n := len(out); n > 0 && out[n-1].ID == u.ID {
			out[n-1].Sources = append(out[n-1].Sources, link)
			continue
		}
		if linkSource.Valid {
			u.Sources = []directory.SourceLink{link}
		}
		for _, l := range []struct {
			dst *[]string
			src string
		}{{&a.BusinessPhones, phones}, {&a.Licenses, lics}, {&a.ProxyAddresses, proxies}, {&u.Tags, tags}} {
			if *l.dst, err = parseList(l.src); err != nil {
				return nil, nil, fmt.Errorf("user %s: %w", u.ID, err)
			}
		}
		out = append(out, u)
		keys = append(keys, ukey)
	}
	return out, keys, rows.Err()
}

// oneUser runs a query for a single user.
func (r reader) oneUser(ctx context.Context, what string, query string, args ...any) (directory.User, error) {
	rows, err := r.c.query(ctx, query, args...)
	if err != nil {
		return directory.User{}, wrap(err, r.c.f, "%s", what)
	}
	users, _, err := readUsers(rows)
	if err != nil {
		return directory.User{}, wrap(err, r.c.f, "%s", what)
	}
	if len(users) == 0 {
		return directory.User{}, wrap(sql.ErrNoRows, r.c.f, "%s", what)
	}
	return users[0], nil
}

var (
	qUser = userSelect(`SELECT * FROM users WHERE account_id = ? AND id = ?`, `u.id`)
	// UserByLink runs once per staged user in an apply; a join on the
	// link's primary key keeps it one index probe.
	qUserByLink = userSelect(`SELECT users.* FROM user_links ul JOIN users ON users.id = ul.user_id
		WHERE ul.source_id = ? AND ul.external_id = ?`, `u.id`)
	qUserByUsername = userSelect(`SELECT * FROM users WHERE account_id = ? AND username_key = ?`, `u.id`)
	qUserByEmail    = userSelect(`SELECT * FROM users WHERE account_id = ? AND email_key = ? AND email_key <> ''`, `u.id`)
)

func (r reader) User(ctx context.Context, accountID, id string) (directory.User, error) {
	return r.oneUser(ctx, fmt.Sprintf("user %q", id), qUser, accountID, id)
}

func (r reader) UserByLink(ctx context.Context, sourceID, externalID string) (directory.User, error) {
	return r.oneUser(ctx, fmt.Sprintf("user linked to %q", externalID), qUserByLink, sourceID, externalID)
}

func (r reader) UserByUsername(ctx context.Context, accountID, username string) (directory.User, error) {
	return r.oneUser(ctx, fmt.Sprintf("user %q", username), qUserByUsername, accountID, key(username))
}

func (r reader) UserByEmail(ctx context.Context, accountID, email string) (directory.User, error) {
	return r.oneUser(ctx, fmt.Sprintf("user with email %q", email), qUserByEmail, accountID, key(email))
}

// defaultStates are what a listing shows when it names none: not the trash.
var defaultStates = []directory.State{directory.StateActive, directory.StateDisabled}

// listFilter builds the WHERE clause shared by the user and group listings.
func listFilter(table, linkTable, linkCol, accountID string, states []directory.State, sourceID, search string) (string, []any) {
	if len(states) == 0 {
		states = defaultStates
	}
	var (
		b    strings.Builder
		args = []any{accountID}
	)
	b.WriteString(`SELECT * FROM ` + table + ` WHERE account_id = ? AND state IN (`)
	for i, s := range states {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, string(s))
	}
	b.WriteString(")")
	if sourceID != "" {
		b.WriteString(` AND EXISTS (SELECT 1 FROM ` + linkTable + ` l WHERE l.` + linkCol + ` = ` + table + `.id AND l.source_id = ?)`)
		args = append(args, sourceID)
	}
	if search != "" {
		b.WriteString(` AND search_key LIKE ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(key(search))+"%")
	}
	return b.String(), args
}

// userFilter adds the filters only users have to a listing's query.
func userFilter(q string, args []any, uq store.UserQuery) (string, []any) {
	if uq.GroupID != "" {
		q += ` AND id IN (WITH RECURSIVE reach(kind, id) AS (
			SELECT member_kind, member_id FROM memberships WHERE group_id = ?
			UNION
			SELECT m.member_kind, m.member_id FROM reach r JOIN memberships m ON m.group_id = r.id WHERE r.kind = 'group')
			SELECT id FROM reach WHERE kind = 'user')`
		args = append(args, uq.GroupID)
	}
	if uq.Tag != "" {
		// Tags are stored as a JSON list: the tag, quoted, is one of its items.
		// Matched case-insensitively, as SQLite's LIKE does anyway.
		b, _ := json.Marshal(strings.ToLower(uq.Tag))
		q += ` AND LOWER(tags) LIKE ? ESCAPE '\'`
		args = append(args, "%"+escapeLike(string(b))+"%")
	}
	if uq.EmailDomain != "" {
		q += ` AND email_key LIKE ? ESCAPE '\'`
		args = append(args, "%@"+escapeLike(key(uq.EmailDomain)))
	}
	if !uq.UpdatedSince.IsZero() {
		q += ` AND updated_at >= ?`
		args = append(args, timeArg(uq.UpdatedSince))
	}
	return q, args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// A cursor is the sort key and id of the last item of a page, so the next
// page starts strictly after it whatever was inserted or deleted since.
func encodeCursor(sortKey, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(sortKey + "\x00" + id))
}

func decodeCursor(c string) (sortKey, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if i := strings.LastIndexByte(string(b), 0); i >= 0 {
			return string(b[:i]), string(b[i+1:]), nil
		}
	}
	return "", "", store.ErrInvalidCursor
}

// encodeTimeCursor is a cursor of a listing ordered by a time then an id.
func encodeTimeCursor(t time.Time, id string) string {
	return encodeCursor(normTime(t).Format(time.RFC3339Nano), id)
}

func decodeTimeCursor(c string) (time.Time, string, error) {
	key, id, err := decodeCursor(c)
	if err != nil {
		return time.Time{}, "", err
	}
	t, err := time.Parse(time.RFC3339Nano, key)
	if err != nil {
		return time.Time{}, "", store.ErrInvalidCursor
	}
	return t, id, nil
}

// pageLimit is how many rows to ask for: one more than the page, to know
// whether another follows.
func pageLimit(limit int) int64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return int64(limit) + 1
}

func (r reader) Users(ctx context.Context, accountID string, q store.UserQuery) (store.Page[directory.User], error) {
	var page store.Page[directory.User]
	var afterKey, afterID string
	if q.After != "" {
		var err error
		if afterKey, afterID, err = decodeCursor(q.After); err != nil {
			return page, fmt.Errorf("sqlstore: users: %w", err)
		}
	}
	inner, args := listFilter("users", "user_links", "user_id", accountID, q.States, q.SourceID, "")
	inner, args = userFilter(inner, args, q)
	var s search
	if q.Search != "" {
		var err error
		if s, err = r.userSearch(ctx, accountID, q.Search); err != nil {
			return page, wrap(err, r.c.f, "users")
		}
		inner, args = inner+s.cond, append(args, s.condArgs...)
	}
	want := int(min(pageLimit(q.Limit), math.MaxInt32))
	var (
		users []directory.User
		keys  []string
	)
	for {
		// With a rare word, its users in username order come in batches,
		// and the query keeps those of a batch that pass the rest.
		bq, ba, more := inner, args, false
		if s.lead != "" {
			batch := 0
			if q.Limit > 0 {
				batch = max(4*want, 200)
			}
			ids, lastKey, lastID, m, err := r.candidates(ctx, accountID, s.lead, afterKey, afterID, batch)
			if err != nil {
				return page, wrap(err, r.c.f, "users")
			}
			if len(ids) == 0 {
				break
			}
			// CROSS JOIN keeps SQLite from walking the username index
			// instead, testing every user against the list.
			bq = `SELECT users.* FROM (VALUES ` + strings.TrimSuffix(strings.Repeat("(?), ", len(ids)), ", ") +
				`) lead CROSS JOIN users WHERE users.id = lead.column1 AND ` + strings.TrimPrefix(inner, `SELECT * FROM users WHERE `)
			ba = append(ids, args...)
			more = m
			got, gotKeys, err := r.userBatch(ctx, bq, ba, "", "", want-len(users), true)
			if err != nil {
				return page, err
			}
			users, keys = append(users, got...), append(keys, gotKeys...)
			afterKey, afterID = lastKey, lastID
		} else {
			got, gotKeys, err := r.userBatch(ctx, bq, ba, afterKey, afterID, want-len(users), false)
			if err != nil {
				return page, err
			}
			users, keys = got, gotKeys
		}
		if !more || len(users) >= want {
			break
		}
	}
	if q.Limit > 0 && len(users) > q.Limit {
		users = users[:q.Limit]
		page.Next = encodeCursor(keys[q.Limit-1], users[q.Limit-1].ID)
	}
	page.Items = users
	return page, nil
}

// userBatch runs a listing's query (inner) from the cursor (afterKey,
// afterID, when afterKey is not ""), at most limit users; once says the
// statement is not worth keeping prepared (it holds a list of ids).
func (r reader) userBatch(ctx context.Context, inner string, args []any, afterKey, afterID string, limit int, once bool) ([]directory.User, []string, error) {
	if afterKey != "" {
		// The first term bounds the index range (an OR alone makes
		// SQLite scan the account from its start on every page).
		inner += ` AND username_key >= ? AND (username_key > ? OR id > ?)`
		args = append(slices.Clip(args), afterKey, afterKey, afterID)
	}
	inner += ` ORDER BY username_key, id LIMIT ?`
	args = append(slices.Clip(args), limit)
	query := r.c.query
	if once {
		query = r.c.queryOnce
	}
	rows, err := query(ctx, userSelect(inner, `u.username_key, u.id`), args...)
	if err != nil {
		return nil, nil, wrap(err, r.c.f, "users")
	}
	users, keys, err := readUsers(rows)
	if err != nil {
		return nil, nil, wrap(err, r.c.f, "users")
	}
	return users, keys, nil
}

// userArgs are the values of the columns CreateUser and UpdateUser write,
// in userWriteCols' order.
func userArgs(u *directory.User) ([]any, error) {
	a := &u.UserAttributes
	var lists [4]string
	for i, l := range [][]string{a.BusinessPhones, a.Licenses, a.ProxyAddresses, u.Tags} {
		s, err := listArg(l)
		if err != nil {
			return nil, err
		}
		lists[i] = s
	}
	search := searchKey(*a)
	return []any{
		a.Username, key(a.Username), a.Email, key(a.Email), search, search, a.DisplayName, a.GivenName, a.Surname,
		a.JobTitle, a.Department, a.MobilePhone, lists[0], a.UserType, lists[1],
		lists[2], a.ImmutableID, a.AccountName, a.DN, u.Enabled, string(u.State), lists[3], u.Notes,
		timeArg(u.TrashedAt),
	}, nil
}

const userWriteCols = `username, username_key, email, email_key, search_key, words_key, display_name, given_name, surname,
	job_title, department, mobile_phone, business_phones, user_type, licenses,
	proxy_addresses, immutable_id, account_name, dn, enabled, state, tags, notes, trashed_at`

const qCreateUser = `INSERT INTO users (` + userWriteCols + `, id, account_id, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT DO NOTHING`

// CreateUser adds u to its account, setting its ID and times; an empty
// State is active. u.Sources is ignored: Link adds links.
func (t *tx) CreateUser(ctx context.Context, u *directory.User) error {
	if u.Username == "" {
		return errors.New("sqlstore: create user: empty username")
	}
	if err := t.c.checkAccount(ctx, u.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create user %q: %w", u.Username, err)
	}
	if u.State == "" {
		u.State = directory.StateActive
	}
	args, err := userArgs(u)
	if err != nil {
		return fmt.Errorf("sqlstore: create user %q: %w", u.Username, err)
	}
	id, now := newID(), t.c.s.now()
	args = append(args, id, u.AccountID, now, now)
	n, err := affected(t.c.exec(ctx, qCreateUser, args...))
	if err != nil {
		return wrap(err, t.c.f, "create user %q", u.Username)
	}
	if n == 0 {
		return t.userConflict(ctx, "create", *u)
	}
	u.ID, u.CreatedAt, u.UpdatedAt, u.Sources = id, now, now, nil
	if err := t.addUserWords(ctx, u); err != nil {
		return wrap(err, t.c.f, "create user %q", u.Username)
	}
	return nil
}

// userConflict says which uniqueness rule stopped a write of u.
func (t *tx) userConflict(ctx context.Context, op string, u directory.User) error {
	field := "email"
	if other, err := t.UserByUsername(ctx, u.AccountID, u.Username); err == nil && other.ID != u.ID {
		field = "username"
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: %s user %q: %w", op, u.Username, err)
	}
	return fmt.Errorf("sqlstore: %s user %q: %s taken: %w", op, u.Username, field, store.ErrAlreadyExists)
}

// The uniqueness rules are checked in the UPDATE rather than left to the
// indexes: a violation would abort a PostgreSQL transaction, and an apply
// goes on after a conflict.
const qUpdateUser = `UPDATE users SET (` + userWriteCols + `, updated_at) =
	(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	WHERE id = ? AND account_id = ?
	AND NOT EXISTS (SELECT 1 FROM users o WHERE o.account_id = ? AND o.username_key = ? AND o.id <> ?)
	AND NOT EXISTS (SELECT 1 FROM users o WHERE o.account_id = ? AND o.email_key = ? AND o.email_key <> '' AND o.id <> ?)`

// UpdateUser writes every field of u but ID, AccountID, Sources and
// CreatedAt; UpdatedAt is the store's clock.
func (t *tx) UpdateUser(ctx context.Context, u directory.User) error {
	if u.Username == "" {
		return errors.New("sqlstore: update user: empty username")
	}
	args, err := userArgs(&u)
	if err != nil {
		return fmt.Errorf("sqlstore: update user %q: %w", u.Username, err)
	}
	args = append(args, t.c.s.now(), u.ID, u.AccountID,
		u.AccountID, key(u.Username), u.ID,
		u.AccountID, key(u.Email), u.ID)
	stale, err := t.wordsStale(ctx, u)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil // the update finds nobody and says so below
	}
	if err != nil {
		return wrap(err, t.c.f, "update user %q", u.Username)
	}
	n, err := affected(t.c.exec(ctx, qUpdateUser, args...))
	if err != nil {
		return wrap(err, t.c.f, "update user %q", u.Username)
	}
	if n == 0 {
		if _, err := t.User(ctx, u.AccountID, u.ID); err != nil {
			return fmt.Errorf("sqlstore: update user: %w", err)
		}
		return t.userConflict(ctx, "update", u)
	}
	if stale {
		if err := t.rewriteUserWords(ctx, &u); err != nil {
			return wrap(err, t.c.f, "update user %q", u.Username)
		}
	}
	return nil
}

// Link ties a user or group to a source object. Linking an object again
// to the same source object does nothing; a source object already linked
// to another object is ErrAlreadyExists. The object and the source must be
// of one account.
func (t *tx) Link(ctx context.Context, kind directory.MemberKind, id string, link directory.SourceLink) error {
	var table, objects, col string
	switch kind {
	case directory.MemberUser:
		table, objects, col = "user_links", "users", "user_id"
	case directory.MemberGroup:
		table, objects, col = "group_links", "groups", "group_id"
	default:
		return fmt.Errorf("sqlstore: link: unknown kind %q", kind)
	}
	if link.ExternalID == "" {
		return errors.New("sqlstore: link: empty external id")
	}
	n, err := affected(t.c.exec(ctx, `INSERT INTO `+table+` (source_id, external_id, `+col+`)
		SELECT s.id, ?, o.id FROM sources s JOIN `+objects+` o ON o.account_id = s.account_id
		WHERE s.id = ? AND o.id = ?
		ON CONFLICT DO NOTHING`, link.ExternalID, link.SourceID, id))
	if err != nil {
		return wrap(err, t.c.f, "link %s %s", kind, id)
	}
	if n == 1 {
		return nil
	}
	var linked string
	err = t.c.row(ctx, `SELECT `+col+` FROM `+table+` WHERE source_id = ? AND external_id = ?`,
		link.SourceID, link.ExternalID).Scan(&linked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: link %s %s: no such %s or source in one account: %w", kind, id, kind, store.ErrNotFound)
	case err != nil:
		return wrap(err, t.c.f, "link %s %s", kind, id)
	case linked != id:
		return fmt.Errorf("sqlstore: link %s %s: source object %q already linked: %w", kind, id, link.ExternalID, store.ErrAlreadyExists)
	}
	return nil
}
