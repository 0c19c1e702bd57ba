package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/store"
)

// indexSQL is the SQL the index was made with, or "" when it does not exist.
func indexSQL(ctx context.Context, t *testing.T, c *conn, name string) string {
	t.Helper()
	rows, err := c.queryOnce(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ddl string
	if rows.Next() {
		if err := rows.Scan(&ddl); err != nil {
			t.Fatal(err)
		}
	}
	return ddl
}

// TestWithoutIndexes drops a table's indexes for a bulk write only when the
// write adds more rows than the table holds, and has them back after it
// as they were: after a write that succeeded, and after one that failed
// (the write rolled back, the transaction going on), and a unique index
// made again refuses what the write put in without it.
func TestWithoutIndexes(t *testing.T) {
	old := bulkIndexMin
	bulkIndexMin = 2
	t.Cleanup(func() { bulkIndexMin = old })
	s := newSQLite(t)
	acc, _ := mkUserT(t, s) // one user: ann
	ctx := t.Context()
	const name = "users_username_key"
	insert := func(c *conn, username string) error {
		_, err := c.execOnce(ctx, `INSERT INTO users (id, account_id, username, username_key, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, newID(), acc.ID, username, key(username))
		return err
	}
	count := func(c *conn) int {
		var n int
		if err := c.row(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	errWrite := errors.New("write failed")
	err := s.Update(ctx, func(stx store.Tx) error {
		c := stx.(*tx).c
		want := indexSQL(ctx, t, c, name)
		if want == "" {
			t.Fatalf("no index %s", name)
		}
		cases := []struct {
			name     string
			incoming int64
			dropped  bool
			write    func() error
			err      error
			users    int
		}{
			{"fewer held than added", 2, true, func() error { return errors.Join(insert(c, "bo"), insert(c, "cy")) }, nil, 3},
			{"as many held as added", 3, false, func() error { return nil }, nil, 3},
			{"write fails", 4, true, func() error { return errors.Join(insert(c, "di"), errWrite) }, errWrite, 3},
			{"duplicate", 4, true, func() error { return errors.Join(insert(c, "eve"), insert(c, "EVE")) }, nil, 3},
		}
		for _, tc := range cases {
			var dropped bool
			err := withoutIndexes(ctx, c, []bulkIndex{{"users", tc.incoming, []string{name}}}, func() error {
				dropped = indexSQL(ctx, t, c, name) == ""
				return tc.write()
			})
			switch {
			case tc.name == "duplicate" && (err == nil || !strings.Contains(err.Error(), "UNIQUE")):
				t.Errorf("%s: err %v, want the unique index's refusal", tc.name, err)
			case tc.name != "duplicate" && !errors.Is(err, tc.err):
				t.Errorf("%s: err %v, want %v", tc.name, err, tc.err)
			}
			if dropped != tc.dropped {
				t.Errorf("%s: index dropped during the write: %v, want %v", tc.name, dropped, tc.dropped)
			}
			if got := indexSQL(ctx, t, c, name); got != want {
				t.Errorf("%s: index after the write %q, want %q", tc.name, got, want)
			}
			if got := count(c); got != tc.users {
				t.Errorf("%s: %d users after the write, want %d", tc.name, got, tc.users)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByUsername(ctx, acc.ID, "bo"); err != nil {
		t.Errorf("the first write's user: %v", err)
	}
	if _, err := s.UserByUsername(ctx, acc.ID, "di"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed write's user: %v, want none", err)
	}
}
