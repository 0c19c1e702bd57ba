package sqlstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// Queued runs across processes: who executes each (claims), and which
// running runs lost their process (orphans). A run is claimed while it is
// queued; once it runs, its source's lease says it is alive.

// ClaimQueuedRuns claims up to limit due queued runs for holder. On
// PostgreSQL, SKIP LOCKED lets processes claiming at once pass over each
// other's rows instead of queueing behind them.
func (t *tx) ClaimQueuedRuns(ctx context.Context, holder string, now, until time.Time, limit int) ([]directory.Run, error) {
	if holder == "" {
		return nil, errors.New("sqlstore: claim queued runs: empty holder")
	}
	if limit <= 0 {
		return nil, nil
	}
	q := `UPDATE runs SET claimed_by = ?, claim_until = ? WHERE id IN (
		SELECT r.id FROM runs r WHERE r.outcome = ? AND r.started_at <= ?
			AND (r.claimed_by = '' OR r.claim_until IS NULL OR r.claim_until < ?)
			AND NOT EXISTS (SELECT 1 FROM source_leases l WHERE l.source_id = r.source_id AND l.expires_at > ?)
		ORDER BY r.started_at, r.id LIMIT ?` + t.c.f.skipLocked + `)
		RETURNING ` + runCols
	runs, err := reader{c: t.c}.runs(ctx, "claim queued runs", q, holder, timeArg(until), string(directory.OutcomeQueued),
		timeArg(now), timeArg(now), timeArg(now), limit)
	slices.SortFunc(runs, func(a, b directory.Run) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	return runs, err
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ClaimRun claims one queued run for holder.
func (t *tx) ClaimRun(ctx context.Context, accountID, id, holder string, now, until time.Time) (bool, error) {
	if holder == "" {
		return false, errors.New("sqlstore: claim run: empty holder")
	}
	n, err := affected(t.c.exec(ctx, `UPDATE runs SET claimed_by = ?, claim_until = ?
		WHERE account_id = ? AND id = ? AND outcome = ?
			AND (claimed_by = '' OR claimed_by = ? OR claim_until IS NULL OR claim_until < ?)`,
		holder, timeArg(until), accountID, id, string(directory.OutcomeQueued), holder, timeArg(now)))
	return n == 1, wrap(err, t.c.f, "claim run %q", id)
}

// RenewRunClaims extends holder's claims on its queued runs.
func (t *tx) RenewRunClaims(ctx context.Context, holder string, until time.Time) error {
	_, err := t.c.exec(ctx, `UPDATE runs SET claim_until = ? WHERE outcome = ? AND claimed_by = ?`,
		timeArg(until), string(directory.OutcomeQueued), holder)
	return wrap(err, t.c.f, "renew run claims")
}

// ReleaseRunClaims hands holder's queued runs back to the pool.
func (t *tx) ReleaseRunClaims(ctx context.Context, holder string) (int, error) {
	n, err := affected(t.c.exec(ctx, `UPDATE runs SET claimed_by = '', claim_until = NULL WHERE outcome = ? AND claimed_by = ?`,
		string(directory.OutcomeQueued), holder))
	return int(n), wrap(err, t.c.f, "release run claims")
}

// OrphanedRuns lists running runs whose source's lease is out.
func (r reader) OrphanedRuns(ctx context.Context, now time.Time) ([]directory.Run, error) {
	return r.runs(ctx, "orphaned runs", `SELECT `+runCols+` FROM runs r WHERE r.outcome = ?
		AND NOT EXISTS (SELECT 1 FROM source_leases l WHERE l.source_id = r.source_id AND l.expires_at > ?)
		ORDER BY r.started_at, r.id`, string(directory.OutcomeRunning), timeArg(now))
}
