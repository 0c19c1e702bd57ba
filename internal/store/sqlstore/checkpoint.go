package sqlstore

import (
	"context"
	"sync"
	"time"
)

// On SQLite, a commit that finds the write-ahead log past 1,000 pages
// checkpoints it before it returns: it copies the log's pages into the
// database file and syncs the file, the only sync a commit in WAL mode
// with synchronous=NORMAL makes. An incremental run of a 100,000-user
// tenant wrote past that mark, and half a second of its 3.8 s went to
// the checkpoint in its commit, while every other writer waited.
//
// So the store's connections never checkpoint on their own
// (wal_autocheckpoint 0, in OpenSQLite's DSN), and a goroutine of the
// store checkpoints after commits instead, beside them: PASSIVE, which
// neither waits for readers and writers nor blocks them, and copies what
// no reader still needs, as the automatic checkpoint does. A checkpoint
// syncs the file, so they come checkpointEvery at most: commits made
// meanwhile ask for one more, once. What the log holds is as
// safe as before: a crash between commit and checkpoint loses nothing
// (the next open reads the log), a power cut what it lost before (the
// last commits, never half of one). Close checkpoints the rest (closing
// the last connection does).

// checkpointer runs the store's checkpoints.
// checkpointEvery is the least time between two checkpoints: many small
// commits (an API's writes) make one checkpoint a second, not one each.
const checkpointEvery = time.Second

type checkpointer struct {
	kick    chan struct{}
	done    chan struct{}
	closing chan struct{}
	stop    sync.Once
}

// startCheckpointer starts the goroutine that checkpoints after commits.
func (s *Store) startCheckpointer() {
	c := &checkpointer{kick: make(chan struct{}, 1), done: make(chan struct{}), closing: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.closing:
				return
			case <-c.kick:
			}
			// As an automatic checkpoint's, a failure is left for the
			// next to mend: the log keeps every commit until then.
			s.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
			// Real time, as s.sleep's: a fake clock nobody moves would
			// hold the checkpoints back for good.
			select {
			case <-time.After(checkpointEvery):
			case <-c.closing:
				return
			}
		}
	}()
	s.ckpt = c
}

// committed asks for a checkpoint after a commit, without waiting.
func (s *Store) committed() {
	if s.ckpt == nil {
		return
	}
	select {
	case s.ckpt.kick <- struct{}{}:
	default: // one is asked for already
	}
}

// stopCheckpointer waits for the checkpoint under way, if any.
func (s *Store) stopCheckpointer() {
	if s.ckpt == nil {
		return
	}
	s.ckpt.stop.Do(func() { close(s.ckpt.closing) })
	<-s.ckpt.done
}
