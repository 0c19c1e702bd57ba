package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
)

// preparingStore fails the preparation of users from its failOn'th call on,
// as a full disk would: the staging writer's failure, while the connector
// still reads.
type preparingStore struct {
	*sqlstore.Store
	failOn int32
	calls  atomic.Int32
}

var errDiskFull = errors.New("disk full")

func (s *preparingStore) PrepareUsers(ctx context.Context, b store.PrepareBatch) error {
	if s.calls.Add(1) >= s.failOn {
		return errDiskFull
	}
	return s.Store.PrepareUsers(ctx, b)
}

// TestStagingWriterFailureAppliesNothing: the batches a full run reads are
// staged and prepared in the background; when that fails halfway through
// the read, the run fails with the writer's error, applies nothing,
// records itself failed and leaves nothing staged or prepared.
func TestStagingWriterFailureAppliesNothing(t *testing.T) {
	f := newFixture(t)
	src := sample()
	f.sync(src, engine.Options{})
	before := f.dump()

	for i := 21; i <= 60; i++ { // new users, which the run prepares in batches of 7
		src.users = append(src.users, user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%02d@acme.example", i), true))
	}
	src.users[0].Department = "changed"
	ps := &preparingStore{Store: f.st.(*sqlstore.Store), failOn: 3}
	eng := &engine.Engine{Store: ps, Clock: f.clk, BatchSize: 7}
	run, err := eng.Sync(f.ctx, f.src, src, engine.Options{})
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "prepare users") {
		t.Fatalf("err = %v, want the preparation's error", err)
	}
	if ps.calls.Load() < 3 {
		t.Fatalf("the writer prepared %d batches, want the failing third", ps.calls.Load())
	}
	if run.Outcome != directory.OutcomeFailed || f.storedRun(run.ID).Outcome != directory.OutcomeFailed {
		t.Fatalf("run %+v, recorded %+v", run, f.storedRun(run.ID))
	}
	if after := f.dump(); after != before {
		t.Fatalf("a failed staging changed the directory:\n%s\nwas\n%s", after, before)
	}
	if n := f.staged(); n != 0 {
		t.Fatalf("%d rows left staged or prepared", n)
	}
	// The same read with a store that works applies it all.
	run = f.sync(src, engine.Options{})
	if run.Counts.Created != 40 || run.Counts.Updated != 1 {
		t.Fatalf("next run: %+v", run.Counts)
	}
}
