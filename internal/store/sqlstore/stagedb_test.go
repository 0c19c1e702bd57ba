package sqlstore

import (
	"context"
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
