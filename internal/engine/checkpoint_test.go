package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// checkpointSpy records the store's writes in order, each with whether it
// was to leave the write-ahead log unchecked-pointed, and the checkpoints
// asked for.
type checkpointSpy struct {
	store.Store
	mu  sync.Mutex
	log []string
}

func (s *checkpointSpy) note(what string, ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if store.CheckpointDeferred(ctx) {
		what += " deferred"
	}
	s.log = append(s.log, what)
}

func (s *checkpointSpy) Update(ctx context.Context, fn func(store.Tx) error) error {
	s.note("update", ctx)
	return s.Store.Update(ctx, fn)
}

func (s *checkpointSpy) UpdateApply(ctx context.Context, fn func(store.Tx) error) error {
	s.note("apply", ctx)
	return s.Store.UpdateApply(ctx, fn)
}

func (s *checkpointSpy) CheckpointSoon() {
	s.note("checkpoint", context.Background())
	s.Store.CheckpointSoon()
}

func (s *checkpointSpy) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log
	s.log = nil
	return l
}

// TestDeltaCheckpointsAfterItsRun: an incremental run's apply, and the
// writes that end the run, leave SQLite's write-ahead log to one
// checkpoint asked for once the run has ended (the checkpoint in the
// apply's commit was half a second at 100,000 users). A full run's writes
// checkpoint as they commit, as before: its log is never left behind.
func TestDeltaCheckpointsAfterItsRun(t *testing.T) {
	f := newFixture(t)
	spy := &checkpointSpy{Store: f.st}
	eng := *f.eng
	eng.Store = spy
	src := &incSource{source: sample()}
	if _, err := eng.Sync(f.ctx, f.src, src, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range spy.take() {
		if w != "update" && w != "apply" {
			t.Fatalf("a full run wrote %q", w)
		}
	}
	src.script = func(s connector.ChangeSink) error {
		return s.UserPatch(patch("u1", func(u *directory.SourceUser) { u.Department = "Legal" }), []directory.UserField{directory.UserDepartment})
	}
	run, err := eng.Sync(f.ctx, f.src, src, engine.Options{})
	if err != nil || run.Kind != directory.RunDelta {
		t.Fatalf("run %s, %v; want a delta", run.Kind, err)
	}
	log := spy.take()
	applied := slices.Index(log, "apply deferred")
	if applied < 0 || slices.Contains(log, "apply") {
		t.Fatalf("writes %q: the delta's apply checkpoints in its commit", log)
	}
	if last := len(log) - 1; log[last] != "checkpoint" || slices.Index(log, "checkpoint") != last {
		t.Fatalf("writes %q: want one checkpoint, after the run's last write", log)
	}
	for _, w := range log[applied+1 : len(log)-1] {
		if w != "update deferred" {
			t.Fatalf("writes %q: a write after the apply checkpoints in its commit", log)
		}
	}
}
