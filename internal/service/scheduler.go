package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/store"
)

// Requester asks for a sync; the Runner is one.
type Requester interface {
	Request(src directory.Source, mode, trigger string) (string, error)
}

// Scheduler fires sources' schedules. Each Tick looks at every stored
// schedule and requests a sync of those due; a schedule missed while the
// service was down fires once (schedule.Due), not once per missed slot.
type Scheduler struct {
	Store  store.Store
	Runner Requester
	Now    func() time.Time
	Logger *slog.Logger
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Tick fires what is due at now and returns how many syncs it requested.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	svc := s.Store
	all, err := svc.SourceSchedules(ctx)
	if err != nil {
		return 0, fmt.Errorf("scheduler: list schedules: %w", err)
	}
	fired := 0
	for _, ss := range all {
		var sc schedule.Schedule
		if err := json.Unmarshal(ss.Spec, &sc); err != nil {
			s.logger().Error("scheduler: unreadable schedule", "source", ss.SourceID, "err", err)
			continue
		}
		due, _ := schedule.Due(sc, ss.LastRun, now)
		if !due {
			continue
		}
		src, err := s.Store.Source(ctx, ss.AccountID, ss.SourceID)
		if err != nil {
			s.logger().Warn("scheduler: source unreadable", "source", ss.SourceID, "err", err)
			continue
		}
		// Record the firing first: a crash after it loses one run, which
		// the next slot makes up; a crash before it would repeat nothing.
		if err := s.markFired(ctx, ss, now); err != nil {
			return fired, err
		}
		if !src.Enabled {
			continue // turned off: the slot passes without a run
		}
		status, err := s.Runner.Request(src, api.ModeDelta, "schedule")
		if err != nil {
			s.logger().Warn("scheduler: sync not started", "source", src.ID, "err", err)
			continue
		}
		fired++
		s.logger().Info("scheduled sync", "source", src.ID, "schedule", sc.String(), "status", status)
	}
	return fired, nil
}

// markFired sets the schedule's last run, unless the schedule changed
// meanwhile (its new spec counts from its own change).
func (s *Scheduler) markFired(ctx context.Context, ss store.SourceSchedule, now time.Time) error {
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		stx := tx
		cur, err := stx.SourceSchedule(ctx, ss.SourceID)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.Spec, ss.Spec) || !cur.LastRun.Equal(ss.LastRun) {
			return nil
		}
		cur.LastRun = now
		return stx.SetSourceSchedule(ctx, cur)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // the source went meanwhile
	}
	if err != nil {
		return fmt.Errorf("scheduler: record firing of %s: %w", ss.SourceID, err)
	}
	return nil
}
