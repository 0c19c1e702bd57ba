package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/dirsync/dirsync/internal/store"
)

// On SQLite, a commit that leaves the write-ahead log past 1,000 pages
// checkpoints it before it returns: it copies the log's pages into the
// database file and syncs it. For an incremental run of a 100,000-user
// tenant that was half a second, after the run's work was done. A
// transaction whose context is store.WithoutCheckpoint runs on a
// connection of its own with wal_autocheckpoint 0, restored after, and
// the engine asks for CheckpointSoon once the run has ended. Only those
// transactions: a full sync still checkpoints as it commits, so its log
// is never left to the background and the file holds what it wrote.
// Nothing is less safe: a crash before the checkpoint loses nothing (the
// next open reads the log).

// checkpoints tracks the background checkpoints Close waits for; once
// closed, it starts none (a run ending while the store closes would add
// to a WaitGroup already waited on).
type checkpoints struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// start reports whether a checkpoint may begin, counting it if so.
func (c *checkpoints) start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// close starts no more checkpoints and waits for those begun.
func (c *checkpoints) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
}

// CheckpointSoon checkpoints the write-ahead log in a goroutine, PASSIVE
// as SQLite's automatic checkpoint; a no-op on PostgreSQL and once Close
// has begun.
func (s *Store) CheckpointSoon() {
	if s.flavor.name != "sqlite" || !s.ckpt.start() {
		return
	}
	go func() {
		defer s.ckpt.wg.Done()
		// As an automatic checkpoint's, a failure is left for the next
		// to mend: the log keeps every commit until then.
		s.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
	}()
}

// noCheckpointConn returns the connection a store.WithoutCheckpoint
// transaction runs on, its automatic checkpoint off, and what puts it
// back; nil, nil, nil when ctx is not marked or the database is not
// SQLite.
func (s *Store) noCheckpointConn(ctx context.Context, b beginner) (*sql.Conn, func(), error) {
	db, ok := b.(*sql.DB)
	if !ok || s.flavor.name != "sqlite" || !store.CheckpointDeferred(ctx) {
		return nil, nil, nil
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	var pages int
	if err := c.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("sqlstore: read wal_autocheckpoint: %w", err)
	}
	if _, err := c.ExecContext(ctx, `PRAGMA wal_autocheckpoint=0`); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("sqlstore: turn off wal_autocheckpoint: %w", err)
	}
	return c, func() {
		rctx := context.WithoutCancel(ctx)
		if _, err := c.ExecContext(rctx, fmt.Sprintf(`PRAGMA wal_autocheckpoint=%d`, pages)); err != nil {
			// Never hand back to the pool a connection whose commits
			// would no longer checkpoint: closing it drops the setting.
			c.Raw(func(any) error { return driver.ErrBadConn })
		}
		c.Close()
	}, nil
}
