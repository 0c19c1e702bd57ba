package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

// TestDroppedStagingLeavesNoFreePages stages a run's worth of users, drops
// them as a run's end does, and reads both files: the directory's never
// held them (no free pages), and the staging file gave their pages back.
func TestDroppedStagingLeavesNoFreePages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	freePages := func() (n int) {
		if err := s.db.QueryRowContext(ctx, `PRAGMA main.freelist_count`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	checkpoint := func() {
		for _, db := range []string{"main", "stage"} {
			if _, err := s.db.ExecContext(ctx, `PRAGMA `+db+`.wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkpoint()
	emptyStage, freeBefore := size(path+"-stage"), freePages()
	users := make([]directory.SourceUser, 5000)
	for i := range users {
		users[i].ExternalID = fmt.Sprintf("ext-%05d", i)
		users[i].Username = fmt.Sprintf("user%05d@example.com", i)
		users[i].DisplayName = strings.Repeat("x", 400)
	}
	if err := s.StageUsers(ctx, "run-1", users); err != nil {
		t.Fatal(err)
	}
	checkpoint()
	if n, _ := s.StagedCount(ctx, "run-1"); n != len(users) || size(path+"-stage") < emptyStage+2<<20 {
		t.Fatalf("staged %d rows, staging file %d bytes", n, size(path+"-stage"))
	}
	if err := s.DropStage(ctx, "run-1"); err != nil {
		t.Fatal(err)
	}
	checkpoint()
	if n := freePages(); n != freeBefore {
		t.Errorf("the directory's file has %d free pages after a run's staging was dropped, %d before", n, freeBefore)
	}
	if got := size(path + "-stage"); got > emptyStage+64<<10 {
		t.Errorf("the staging file is %d bytes after its rows were dropped, %d empty", got, emptyStage)
	}
	if fi, err := os.Stat(path + "-stage"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("staging file mode %v (%v), want 0600", fi.Mode(), err)
	}
}

// TestStagingFileOfAnotherSchemaIsMadeAgain: a staging file a previous
// release made holds its prep_users as that release wrote it (here,
// without words_key, a column users gained later). The store opening it
// makes the staging tables again, as this release writes them, instead of
// keeping the old ones, which would fail every full run.
func TestStagingFileOfAnotherSchemaIsMadeAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dirsync.db")
	ctx := t.Context()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	old, err := sql.Open("sqlite", path+"-stage")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE prep_users`,
		`CREATE TABLE prep_users (run_id TEXT NOT NULL, external_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (run_id, external_id))`,
		`INSERT INTO staged_users (run_id, external_id, data) VALUES ('old-run', 'x', '{}')`,
		`PRAGMA user_version = 0`} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var cols int
	if err := s.db.QueryRow(`SELECT count(*) FROM pragma_table_info('prep_users', 'stage') WHERE name = 'words_key'`).Scan(&cols); err != nil || cols != 1 {
		t.Fatalf("prep_users has %d words_key columns (%v): the old table was kept", cols, err)
	}
	if n, err := s.StagedCount(ctx, "old-run"); err != nil || n != 0 {
		t.Fatalf("the old file's staged rows: %d, %v", n, err)
	}
	var version int64
	if err := s.db.QueryRow(`PRAGMA stage.user_version`).Scan(&version); err != nil || version != stageSchemaVersion() {
		t.Fatalf("user_version %d, want %d (%v)", version, stageSchemaVersion(), err)
	}
}
