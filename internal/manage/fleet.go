package manage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// Running as a fleet: several dirsync serve processes on one database
// share the queued runs. The process that will execute a queued run claims
// it for a while (renewed while it waits for a worker); a process that
// dies lets its claims run out, one that shuts down hands them back. A run
// that is running holds its source's lease (package engine); a run whose
// lease ran out lost its process, and is marked interrupted and queued
// again (RecoverOrphans).
//
// Why not a job queue library (github.com/riverqueue/river was tried,
// v0.51.2, 2026-11-29): the runs table already is the queue the history,
// the API and the console show, and a second one would have to agree with
// it; River rescues a job whose worker died only after RescueStuckJobsAfter,
// which must exceed the longest job (a first sync of a large tenant runs
// for many minutes), where a source's lease here is renewed every 20 s and
// a dead run is taken over after one lease TTL (1 minute); and its SQLite
// driver, beside another writer on the same file (the store, applying),
// worked 16 of 200 jobs in 60 s with one connection and failed with
// SQLITE_BUSY with four, so it could not be the one code path for both
// databases. On PostgreSQL alone it did well (300 unique inserts from three
// clients in 80 ms, every job once).

// ClaimQueued claims up to limit due queued runs for holder, for ttl, and
// returns them as jobs.
func (m *Manager) ClaimQueued(ctx context.Context, holder string, limit int, ttl time.Duration) ([]Job, error) {
	var runs []directory.Run
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		now := m.now()
		var err error
		runs, err = tx.ClaimQueuedRuns(ctx, holder, now, now.Add(ttl), limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim queued runs: %w", err)
	}
	jobs := make([]Job, len(runs))
	for i, r := range runs {
		jobs[i] = Job{Run: r, Attempt: 1}
	}
	return jobs, nil
}

// ClaimJob claims a job's run for holder, for ttl; false means another
// process has it, or it is no longer queued.
func (m *Manager) ClaimJob(ctx context.Context, job Job, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		now := m.now()
		var err error
		ok, err = tx.ClaimRun(ctx, job.Run.AccountID, job.Run.ID, holder, now, now.Add(ttl))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim run %s: %w", job.Run.ID, err)
	}
	return ok, nil
}

// RenewClaims extends holder's claims on its queued runs by ttl from now.
func (m *Manager) RenewClaims(ctx context.Context, holder string, ttl time.Duration) error {
	err := m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.RenewRunClaims(ctx, holder, m.now().Add(ttl)) })
	if err != nil {
		return fmt.Errorf("renew run claims: %w", err)
	}
	return nil
}

// ReleaseClaims hands holder's queued runs to the other processes, and
// returns how many it handed on.
func (m *Manager) ReleaseClaims(ctx context.Context, holder string) (int, error) {
	var n int
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.ReleaseRunClaims(ctx, holder)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hand on queued runs: %w", err)
	}
	return n, nil
}

// maxInterrupted is how many runs of a source in a row may be interrupted
// before RecoverOrphans stops queueing them again: a run that kills every
// process that runs it must not take the fleet down one by one.
const maxInterrupted = 3

// RecoverOrphans marks interrupted the runs whose process died (their
// source's lease ran out while they were running) and queues each again,
// for whichever process claims it; it returns the runs queued. A dry run,
// a single-user run, a source with a run queued already, and a source
// whose last maxInterrupted runs were all interrupted are not queued again.
func (m *Manager) RecoverOrphans(ctx context.Context) ([]directory.Run, error) {
	orphans, err := m.d.Store.OrphanedRuns(ctx, m.now())
	if err != nil {
		return nil, fmt.Errorf("find orphaned runs: %w", err)
	}
	bySource := map[string][]directory.Run{}
	var order []string
	for _, r := range orphans {
		if bySource[r.SourceID] == nil {
			order = append(order, r.SourceID)
		}
		bySource[r.SourceID] = append(bySource[r.SourceID], r)
	}
	var queued []directory.Run
	var errs []error
	for _, id := range order {
		runs := bySource[id]
		src, err := m.d.Store.Source(ctx, runs[0].AccountID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // the source went; its next lease is never taken
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := m.reap(ctx, src); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range runs {
			retry, err := m.requeueInterrupted(ctx, src, r)
			if err != nil {
				errs = append(errs, err)
			}
			if retry.ID != "" {
				queued = append(queued, retry)
				m.d.Logger.Warn("run interrupted: its process stopped; queued again", "account", src.AccountID,
					"source", src.ID, "run", r.ID, "retry", retry.ID)
			}
		}
	}
	return queued, errors.Join(errs...)
}

// requeuedAs ends an interrupted run's reason once it is queued again,
// followed by the new run's id.
const requeuedAs = "; queued again as run "

// needsRequeue says whether the interrupted run dead is to be queued
// again, given its source's most recent runs (newest first, as many as
// maxInterrupted+1). Replicas reap the same dead run at once, so it may
// have been queued again already, and that retry may even have ended.
func needsRequeue(dead directory.Run, recent []directory.Run) bool {
	if strings.Contains(dead.Reason, requeuedAs) {
		return false
	}
	streak, seen := 0, false
	for _, r := range recent {
		seen = seen || r.ID == dead.ID
		if !seen || r.Outcome == directory.OutcomeQueued {
			// A run begun since the dead one, or one queued, syncs
			// the source anyway.
			return false
		}
		if r.Outcome != directory.OutcomeInterrupted {
			break
		}
		streak++
	}
	return streak <= maxInterrupted
}

// requeueInterrupted queues again a run reap found interrupted, and says
// so in its reason.
func (m *Manager) requeueInterrupted(ctx context.Context, src directory.Source, dead directory.Run) (directory.Run, error) {
	var retry directory.Run
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		retry = directory.Run{}
		cur, err := tx.Run(ctx, dead.AccountID, dead.ID)
		if err != nil || cur.Outcome != directory.OutcomeInterrupted || cur.DryRun || cur.Kind == directory.RunSingle {
			return err
		}
		recent, err := tx.Runs(ctx, src.AccountID, src.ID, maxInterrupted+1)
		if err != nil || !needsRequeue(cur, recent) {
			return err
		}
		retry = newRun(src, SyncRequest{Full: cur.Kind == directory.RunFull, Trigger: cur.Trigger}, Actor{}, directory.OutcomeQueued, m.now())
		if err := tx.CreateRun(ctx, &retry); err != nil {
			return err
		}
		cur.Reason += requeuedAs + retry.ID
		return tx.UpdateRun(ctx, cur)
	})
	if err != nil {
		return directory.Run{}, fmt.Errorf("queue interrupted run %s again: %w", dead.ID, err)
	}
	return retry, nil
}
