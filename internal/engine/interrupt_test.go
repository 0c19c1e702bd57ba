package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// interruptingSource cancels the run's context, with the cause an
// interrupt signal gives (signal.NotifyContext), after handing over some
// users: Ctrl-C in the middle of a read.
type interruptingSource struct {
	*source
	cancel context.CancelCauseFunc
	after  int
}

type interruptSignal struct{}

func (interruptSignal) Error() string        { return "interrupt signal received" }
func (interruptSignal) Is(target error) bool { return target == context.Canceled }

func (s *interruptingSource) Snapshot(ctx context.Context, sink connector.Sink) error {
	for i, u := range s.users {
		if i == s.after {
			s.cancel(interruptSignal{})
		}
		if err := sink.User(u); err != nil {
			return err
		}
	}
	return nil
}

// lastEvent is the type of the account's newest event.
func (f *fixture) lastEvent() directory.Event {
	f.t.Helper()
	evs, err := f.st.Events(f.ctx, f.acc.ID, 0, 0)
	if err != nil || len(evs) == 0 {
		f.t.Fatalf("events: %d, %v", len(evs), err)
	}
	return evs[len(evs)-1]
}

// TestCancelledRunIsRecordedAsCancelled: Ctrl-C in the middle of a read
// ends the run as cancelled, with the interrupt as its reason, recorded
// although the run's own context is gone; nothing applied, nothing staged
// left behind, never "running".
func TestCancelledRunIsRecordedAsCancelled(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		src := sample()
		f.sync(src, engine.Options{})
		before := f.dump()
		for i := range src.users {
			src.users[i].JobTitle = "changed"
		}
		ctx, cancel := context.WithCancelCause(f.ctx)
		defer cancel(nil)
		run, err := f.eng.Sync(ctx, f.src, &interruptingSource{source: src, cancel: cancel, after: 10}, engine.Options{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		rec := f.storedRun(run.ID)
		if rec.Outcome != directory.OutcomeCancelled || !strings.HasPrefix(rec.Reason, "cancelled: interrupt") ||
			rec.FinishedAt.IsZero() || rec.Duration() < 0 {
			t.Fatalf("recorded run: outcome %s, reason %q, finished %v", rec.Outcome, rec.Reason, rec.FinishedAt)
		}
		if f.dump() != before {
			t.Fatal("a cancelled run changed the directory")
		}
		if n := f.staged(); n != 0 {
			t.Fatalf("%d staged rows left by the cancelled run", n)
		}
		if ev := f.lastEvent(); ev.Type != directory.EventSyncFailed || ev.RunID != run.ID {
			t.Fatalf("last event %s of run %s", ev.Type, ev.RunID)
		}
	})
}

// TestDeadRunInterruptedByTheNextLease: a process killed mid-run leaves its
// run "running", its lease and its staged rows. While the lease runs, the
// source is busy and the dead run untouched; once it has run out, the next
// run takes the source, marks the dead run interrupted and drops its rows.
func TestDeadRunInterruptedByTheNextLease(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		f.sync(sample(), engine.Options{})
		dead := directory.Run{AccountID: f.acc.ID, SourceID: f.src.ID, Source: f.src.Name, Kind: directory.RunFull,
			StartedAt: f.clk.Now(), Outcome: directory.OutcomeRunning}
		err := f.st.Update(f.ctx, func(tx store.Tx) error {
			if err := tx.AcquireLease(f.ctx, f.src.ID, "dead-host/pid-1/abcd", f.clk.Now(), time.Minute); err != nil {
				return err
			}
			return tx.CreateRun(f.ctx, &dead)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{dead.ID, dead.ID + "/flat"} {
			if err := f.st.StageUsers(f.ctx, key, sample().users); err != nil {
				t.Fatal(err)
			}
		}
		f.clk.Advance(30 * time.Second)
		if _, err := f.eng.Sync(f.ctx, f.src, sample(), engine.Options{}); !errors.Is(err, engine.ErrBusy) {
			t.Fatalf("sync while the dead run's lease runs: %v, want ErrBusy", err)
		}
		if rec := f.storedRun(dead.ID); rec.Outcome != directory.OutcomeRunning {
			t.Fatalf("a run whose lease still runs was marked %s", rec.Outcome)
		}
		f.clk.Advance(31 * time.Second)
		next := f.sync(sample(), engine.Options{})
		rec := f.storedRun(dead.ID)
		if rec.Outcome != directory.OutcomeInterrupted || !strings.HasPrefix(rec.Reason, "interrupted:") ||
			!rec.FinishedAt.Equal(f.clk.Now()) {
			t.Fatalf("dead run recorded as %s (%q), finished %v", rec.Outcome, rec.Reason, rec.FinishedAt)
		}
		if n := f.staged(); n != 0 {
			t.Fatalf("%d staged rows left after the next run", n)
		}
		if next.Outcome != directory.OutcomeSucceeded {
			t.Fatalf("next run %s", next.Outcome)
		}
		evs, _ := f.st.Events(f.ctx, f.acc.ID, 0, 0)
		failed := 0
		for _, e := range evs {
			if e.Type == directory.EventSyncFailed && e.RunID == dead.ID {
				failed++
			}
		}
		if failed != 1 {
			t.Fatalf("%d sync.failed events for the dead run, want 1", failed)
		}
		if runs, _ := f.st.UnfinishedRuns(f.ctx, f.acc.ID, f.src.ID); len(runs) != 0 {
			t.Fatalf("%d runs still running", len(runs))
		}
	})
}

// TestReapMarksDeadRunsWithoutRunning: a service starting up reaps a
// source's dead runs without syncing it.
func TestReapMarksDeadRunsWithoutRunning(t *testing.T) {
	f := newFixture(t)
	dead := directory.Run{AccountID: f.acc.ID, SourceID: f.src.ID, Kind: directory.RunFull, StartedAt: f.clk.Now(), Outcome: directory.OutcomeRunning}
	if err := f.st.Update(f.ctx, func(tx store.Tx) error { return tx.CreateRun(f.ctx, &dead) }); err != nil {
		t.Fatal(err)
	}
	if err := f.st.StageUsers(f.ctx, dead.ID, sample().users); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Reap(f.ctx, f.src); err != nil {
		t.Fatal(err)
	}
	if rec := f.storedRun(dead.ID); rec.Outcome != directory.OutcomeInterrupted || f.staged() != 0 {
		t.Fatalf("after Reap: %s, %d staged rows", rec.Outcome, f.staged())
	}
	if runs, _ := f.st.Runs(f.ctx, f.acc.ID, f.src.ID, 0); len(runs) != 1 {
		t.Fatalf("Reap recorded a run: %d runs", len(runs))
	}
}

// noLateDrop is a store whose DropStage outside a transaction does
// nothing, as when a process dies right after a run's record commits.
type noLateDrop struct{ store.Store }

func (noLateDrop) DropStage(context.Context, string) error { return nil }

// TestStagingGoesWithTheRunsRecord: the transaction that records how a run
// ended drops its staging, so no ending (succeeded, failed, stopped, dry
// run, delta) leaves staged rows, even if the process dies right after.
func TestStagingGoesWithTheRunsRecord(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		eng := *f.eng
		eng.Store = noLateDrop{f.st}
		src := &incSource{source: sample()}
		check := func(what string, opts engine.Options) {
			t.Helper()
			run, _ := eng.Sync(f.ctx, f.src, src, opts)
			if n := f.staged(); n != 0 {
				t.Fatalf("%s (%s %s): %d staged rows left", what, run.Kind, run.Outcome, n)
			}
		}
		check("first full run", engine.Options{})
		src.script = func(s connector.ChangeSink) error {
			return s.Membership(directory.SourceMembership{GroupExternalID: "g-all", MemberExternalID: "u9", MemberKind: directory.MemberUser})
		}
		check("delta run", engine.Options{})
		check("dry run", engine.Options{DryRun: true, Full: true})
		src.users = src.users[:10]
		check("stopped run", engine.Options{Full: true})
		src.failAfter, src.err = 5, connector.Errorf(connector.KindNetwork, "unreachable")
		check("failed run", engine.Options{Full: true})
	})
}
