package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/store"
)

// leaseSpy is a store that reports every lease its transactions take or renew.
type leaseSpy struct {
	store.Store
	leased chan time.Time
}

func (s *leaseSpy) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(&leaseSpyTx{tx, s.leased}) })
}

type leaseSpyTx struct {
	store.Tx
	leased chan time.Time
}

func (t *leaseSpyTx) AcquireLease(ctx context.Context, sourceID, holder string, now time.Time, ttl time.Duration) error {
	err := t.Tx.AcquireLease(ctx, sourceID, holder, now, ttl)
	if err == nil {
		t.leased <- now
	}
	return err
}

// blockedSource is a source whose snapshot waits until released.
type blockedSource struct {
	*source
	started, release chan struct{}
}

func (s *blockedSource) Snapshot(ctx context.Context, sink connector.Sink) error {
	close(s.started)
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.source.Snapshot(ctx, sink)
}

// TestLeaseRenewedOnTheClock: a run that lasts longer than its lease keeps
// it, renewed every third of the TTL on the engine's clock, and another
// process cannot take the source while it runs.
func TestLeaseRenewedOnTheClock(t *testing.T) {
	f := newFixture(t)
	spy := &leaseSpy{Store: f.st, leased: make(chan time.Time, 16)}
	eng := &engine.Engine{Store: spy, Clock: f.clk, LeaseTTL: time.Minute}
	src := &blockedSource{source: sample(), started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := eng.Sync(f.ctx, f.src, src, engine.Options{})
		done <- err
	}()
	waitLease := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-spy.leased:
			return at
		case err := <-done:
			t.Fatalf("%s: the run ended: %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no lease taken", what)
		}
		return time.Time{}
	}
	start := waitLease("first lease")
	<-src.started
	for i := 1; i <= 6; i++ {
		f.clk.Advance(20 * time.Second)
		if at := waitLease("renewal"); !at.Equal(start.Add(time.Duration(i) * 20 * time.Second)) {
			t.Fatalf("renewal %d at %v, want %v", i, at, start.Add(time.Duration(i)*20*time.Second))
		}
	}
	// Two minutes in, twice the TTL: the lease still holds.
	err := f.st.Update(f.ctx, func(tx store.Tx) error {
		return tx.AcquireLease(f.ctx, f.src.ID, "other-process", f.clk.Now(), time.Minute)
	})
	if !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("another process took a running source's lease: %v", err)
	}
	close(src.release)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			// Released at the end: the other process may run.
			err = f.st.Update(f.ctx, func(tx store.Tx) error {
				return tx.AcquireLease(f.ctx, f.src.ID, "other-process", f.clk.Now(), time.Minute)
			})
			if err != nil {
				t.Fatalf("lease after the run: %v", err)
			}
			runs, _ := f.st.Runs(f.ctx, f.acc.ID, f.src.ID, 0)
			if len(runs) != 1 || runs[0].Outcome != directory.OutcomeSucceeded {
				t.Fatalf("runs %+v", runs)
			}
			return
		case <-spy.leased:
		}
	}
}
