package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
)

// TestCommitsLeaveCheckpointsToTheStore: no connection of the store
// checkpoints in its commit (an incremental run's commit spent half a
// second there at 100,000 users); the store's own goroutine does, and
// stops with the store.
func TestCommitsLeaveCheckpointsToTheStore(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // several connections of the pool
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var pages int
		if err := c.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil || pages != 0 {
			t.Fatalf("wal_autocheckpoint %d (%v), want 0: commits checkpoint", pages, err)
		}
	}
	if s.ckpt == nil {
		t.Fatal("no checkpointer")
	}
	s.committed()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.ckpt.done:
	default:
		t.Fatal("the checkpointer outlived the store")
	}
}
