package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// A first sync creates every user of the source. One by one, each costs a
// lookup by link, by username and by email, an INSERT and a link: five
// statements. FreeUsers answers the lookups for a page at once, and
// CreateLinkedUsers writes the users a page has no question about in a few
// multi-row statements.

// keysBatch is how many values one IN list of the lookups carries.
const keysBatch = 400

// heldKeys returns which of the values the query (ending in "IN ") finds,
// args going before the list.
func (t *tx) heldKeys(ctx context.Context, query string, args []any, values []string) (map[string]bool, error) {
	held := map[string]bool{}
	for start := 0; start < len(values); start += keysBatch {
		batch := values[start:min(start+keysBatch, len(values))]
		a := append(append([]any(nil), args...), anySlice(batch)...)
		rows, err := t.c.queryOnce(ctx, query+`(`+strings.TrimSuffix(strings.Repeat("?, ", len(batch)), ", ")+`)`, a...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			held[k] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return held, nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// FreeUsers reports, for each user, whether it can be created as it is:
// its external id links to nothing of the source, and no user of the
// account, nor an earlier one in users, holds its username or its email.
func (t *tx) FreeUsers(ctx context.Context, accountID, sourceID string, users []directory.SourceUser) ([]bool, error) {
	exts, names, emails := make([]string, 0, len(users)), make([]string, 0, len(users)), make([]string, 0, len(users))
	for _, u := range users {
		exts, names = append(exts, u.ExternalID), append(names, key(u.Username))
		if u.Email != "" {
			emails = append(emails, key(u.Email))
		}
	}
	linked, err := t.heldKeys(ctx, `SELECT external_id FROM user_links WHERE source_id = ? AND external_id IN `, []any{sourceID}, exts)
	if err != nil {
		return nil, wrap(err, t.c.f, "free users")
	}
	takenNames, err := t.heldKeys(ctx, `SELECT username_key FROM users WHERE account_id = ? AND username_key IN `, []any{accountID}, names)
	if err != nil {
		return nil, wrap(err, t.c.f, "free users")
	}
	// email_key <> '' lets the planner use the partial unique index.
	takenEmails, err := t.heldKeys(ctx, `SELECT email_key FROM users WHERE account_id = ? AND email_key <> '' AND email_key IN `, []any{accountID}, emails)
	if err != nil {
		return nil, wrap(err, t.c.f, "free users")
	}
	free := make([]bool, len(users))
	for i, u := range users {
		n, e := key(u.Username), key(u.Email)
		free[i] = !linked[u.ExternalID] && !takenNames[n] && (e == "" || !takenEmails[e])
		// A later user of the list meets this one, whatever becomes of it.
		takenNames[n], linked[u.ExternalID] = true, true
		if e != "" {
			takenEmails[e] = true
		}
	}
	return free, nil
}

// bulkUsers is how many users one INSERT writes (28 values each).
const bulkUsers = 100

// CreateLinkedUsers creates the users, setting their ID and times (an
// empty State is active), and links each to the source object of the same
// index, a hundred rows a statement. They must be free (FreeUsers): a
// uniqueness rule broken here fails the transaction.
func (t *tx) CreateLinkedUsers(ctx context.Context, sourceID string, users []*directory.User, externalIDs []string) error {
	if len(users) != len(externalIDs) {
		return fmt.Errorf("sqlstore: create linked users: %d users, %d external ids", len(users), len(externalIDs))
	}
	if t.c.canCopy() {
		return t.copyLinkedUsers(ctx, sourceID, users, externalIDs)
	}
	now := t.c.s.now()
	for start := 0; start < len(users); start += bulkUsers {
		batch := users[start:min(start+bulkUsers, len(users))]
		args, links := make([]any, 0, 28*len(batch)), make([]any, 0, 3*len(batch))
		for i, u := range batch {
			row, err := t.newUserRow(ctx, u, start+i, now)
			if err != nil {
				return err
			}
			args = append(args, row...)
			links = append(links, sourceID, externalIDs[start+i], u.ID)
		}
		row := `(` + strings.TrimSuffix(strings.Repeat("?, ", 28), ", ") + `)`
		if err := t.c.insertRows(ctx, `INSERT INTO users (`+userWriteCols+`, id, account_id, created_at, updated_at) VALUES `,
			row, len(batch), bulkUsers, "", args); err != nil {
			return wrap(err, t.c.f, "create users")
		}
		if err := t.c.insertRows(ctx, `INSERT INTO user_links (source_id, external_id, user_id) VALUES `,
			"(?, ?, ?)", len(batch), bulkUsers, "", links); err != nil {
			return wrap(err, t.c.f, "link users")
		}
		if err := t.addUserWords(ctx, batch...); err != nil {
			return wrap(err, t.c.f, "create users")
		}
	}
	return nil
}

// newUserRow checks the i-th new linked user u, gives it its id and times
// (now), and returns its row: userArgs' values, then the id, account and
// times, as userCopyCols lists them. Both ways of creating linked users,
// rows of an INSERT and COPY, take it.
func (t *tx) newUserRow(ctx context.Context, u *directory.User, i int, now time.Time) ([]any, error) {
	if u.Username == "" {
		return nil, fmt.Errorf("sqlstore: create linked users: user %d has no username", i)
	}
	if err := t.c.checkAccount(ctx, u.AccountID); err != nil {
		return nil, fmt.Errorf("sqlstore: create user %q: %w", u.Username, err)
	}
	if u.State == "" {
		u.State = directory.StateActive
	}
	a, err := userArgs(u)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: create user %q: %w", u.Username, err)
	}
	u.ID, u.CreatedAt, u.UpdatedAt, u.Sources = newID(), now, now, nil
	return append(a, u.ID, u.AccountID, now, now), nil
}

// userCopyCols are the columns copyLinkedUsers writes, in userArgs' order
// and then the id, account and times.
var userCopyCols = append(strings.Fields(strings.ReplaceAll(userWriteCols, ",", " ")), "id", "account_id", "created_at", "updated_at")

// copyLinkedUsers is CreateLinkedUsers on PostgreSQL: the users, then
// their links, each in one COPY.
func (t *tx) copyLinkedUsers(ctx context.Context, sourceID string, users []*directory.User, externalIDs []string) error {
	now := t.c.s.now()
	rows, links := make([][]any, 0, len(users)), make([][]any, 0, len(users))
	for i, u := range users {
		row, err := t.newUserRow(ctx, u, i, now)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		links = append(links, []any{sourceID, externalIDs[i], u.ID})
	}
	if err := t.c.copyRows(ctx, "users", userCopyCols, rows); err != nil {
		return wrap(err, t.c.f, "create users")
	}
	if err := t.c.copyRows(ctx, "user_links", []string{"source_id", "external_id", "user_id"}, links); err != nil {
		return wrap(err, t.c.f, "link users")
	}
	// Each user's search words, distinct (SearchWords): new users' ids
	// meet no stored word.
	var words [][]any
	for _, u := range users {
		for _, w := range directory.SearchWords(u.UserAttributes) {
			words = append(words, []any{u.ID, w, u.AccountID, key(u.Username)})
		}
	}
	if err := t.c.copyRows(ctx, "user_words", []string{"user_id", "word", "account_id", "username_key"}, words); err != nil {
		return wrap(err, t.c.f, "create users")
	}
	return wrap(t.c.usersAdded.add(ctx, t.c, len(users),
		"users (account_id, username_key, email_key)", "user_links (source_id, external_id)"), t.c.f, "create users")
}
