package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dirsync/dirsync/internal/store"
)

// TestWithoutCheckpointLeavesTheLog: a transaction marked
// store.WithoutCheckpoint commits without checkpointing the write-ahead
// log however far past 1,000 pages it is (an incremental run's commit
// spent half a second there at 100,000 users), the next unmarked commit
// checkpoints again (the connection's setting is put back), and
// CheckpointSoon moves the log into the database file before Close
// returns.
func TestWithoutCheckpointLeavesTheLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// 2,500 pages of 4 KiB: past the automatic checkpoint's 1,000.
	write := func(ctx context.Context, table string) {
		t.Helper()
		err := s.Update(ctx, func(t store.Tx) error {
			c := t.(*tx).c
			if _, err := c.execOnce(ctx, `CREATE TABLE `+table+` (b BLOB)`); err != nil {
				return err
			}
			_, err := c.execOnce(ctx, `INSERT INTO `+table+` WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2500) SELECT randomblob(3000) FROM n`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// One connection: the commit after the marked one takes the same.
	s.db.SetMaxOpenConns(1)
	base := size()
	write(store.WithoutCheckpoint(ctx), "deferred")
	if got := size(); got > base+1<<20 {
		t.Fatalf("database file %d bytes after a WithoutCheckpoint commit (%d before): it checkpointed", got, base)
	}
	// The next commit runs on the same connection: its automatic
	// checkpoint is back, and copies both tables into the file.
	write(ctx, "plain")
	if got := size(); got < base+10<<20 {
		t.Fatalf("database file %d bytes after a plain commit (%d before): the automatic checkpoint stayed off", got, base)
	}
	write(store.WithoutCheckpoint(ctx), "later")
	grown := size()
	s.CheckpointSoon()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := size(); got < grown+5<<20 {
		t.Fatalf("database file %d bytes after CheckpointSoon and Close (%d before): the log was not checkpointed", got, grown)
	}
}

// TestCheckpointSoonWhileClosing: runs that end while the store closes
// ask for checkpoints beside Close; none starts once Close has begun
// (a WaitGroup added to while it is waited on is a misuse), and the
// race detector sees no race.
func TestCheckpointSoonWhileClosing(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			s.CheckpointSoon()
		}
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if s.ckpt.start() {
		t.Fatal("a checkpoint started after Close")
	}
}
