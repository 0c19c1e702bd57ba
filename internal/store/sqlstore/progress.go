package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// progressWait bounds how long a progress write waits for SQLite's file
// lock when another process writes: progress is not worth stalling a run.
const progressWait = 500 * time.Millisecond

// SetRunProgress records the run's progress, as store.Stager says.
func (s *Store) SetRunProgress(ctx context.Context, accountID, runID string, p directory.RunProgress) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("sqlstore: run progress: %w", err)
	}
	if s.writeSem != nil {
		select {
		case s.writeSem <- struct{}{}:
			defer s.release()
		default:
			return nil // this process's writer is busy (an apply): next time
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, progressWait)
		defer cancel()
	}
	_, err = s.db.ExecContext(ctx, s.flavor.rebind(`INSERT INTO run_progress (run_id, account_id, data) VALUES (?, ?, ?)
		ON CONFLICT (run_id) DO UPDATE SET data = excluded.data`), runID, accountID, string(data))
	if err != nil && s.writeSem != nil && ctx.Err() != nil {
		return nil // another process holds the file: next time
	}
	return wrap(err, s.flavor, "run progress")
}

func (r reader) RunProgress(ctx context.Context, accountID, runID string) (directory.RunProgress, error) {
	var (
		p    directory.RunProgress
		data string
	)
	err := r.c.row(ctx, `SELECT data FROM run_progress WHERE run_id = ? AND account_id = ?`, runID, accountID).Scan(&data)
	if err != nil {
		return p, wrap(err, r.c.f, "run progress")
	}
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return p, fmt.Errorf("sqlstore: run progress: %w", err)
	}
	return p, nil
}
