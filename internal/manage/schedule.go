package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/store"
)

// ScheduleHelp is the schedule grammar, for --help texts and forms.
const ScheduleHelp = `  none                          manual only
  every 30m                     every N minutes
  every 6h from 02:00           every N hours from a start time
  daily 03:15                   once a day ("daily at 03:15" too)
  weekly mon,thu 08:00          on chosen weekdays
  monthly 1,15 23:00            on one or two dates (31 means the month's last day)
each optionally followed by "in ZONE", an IANA time zone such as Europe/Paris
(UTC without one).`

// ParseSchedule reads a schedule's text, such as "daily at 03:15 in
// Europe/Paris" (see ScheduleHelp).
func ParseSchedule(text string) (schedule.Schedule, error) {
	sc, err := schedule.Parse(text)
	return sc, scheduleError(err)
}

// DecodeSchedule reads a schedule given as JSON: its text as a string, or
// a schedule object.
func DecodeSchedule(raw json.RawMessage) (schedule.Schedule, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var text string
		if err := json.Unmarshal(t, &text); err != nil {
			return schedule.Schedule{}, invalid("schedule", "schedule: %v", err)
		}
		return ParseSchedule(text)
	}
	var sc schedule.Schedule
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return sc, invalid("schedule", "schedule: want a schedule object or text such as \"daily 03:15\": %v", err)
	}
	return sc, scheduleError(sc.Validate())
}

func scheduleError(err error) error {
	if err == nil {
		return nil
	}
	var se *schedule.Error
	if errors.As(err, &se) {
		msg := se.Msg
		if se.Spec != "" {
			msg = fmt.Sprintf("schedule %q: %s", se.Spec, se.Msg)
		}
		return invalid("schedule."+se.Field, "%s", msg).with(err)
	}
	return invalid("schedule", "%v", err).with(err)
}

// SetSchedule sets when a source syncs; its first slot counts from now.
func (m *Manager) SetSchedule(ctx context.Context, actor Actor, key string, sc schedule.Schedule) (SourceView, error) {
	return m.UpdateSource(ctx, actor, key, SourceInput{Schedule: &sc})
}

// storedSchedule returns the source's schedule and when it last fired; a
// source without one is manual only.
func (m *Manager) storedSchedule(ctx context.Context, rd store.Reader, src directory.Source) (schedule.Schedule, time.Time, error) {
	none := schedule.Schedule{Kind: schedule.None}
	ss, err := rd.SourceSchedule(ctx, src.ID)
	if errors.Is(err, store.ErrNotFound) {
		return none, time.Time{}, nil
	}
	if err != nil {
		return none, time.Time{}, err
	}
	var sc schedule.Schedule
	if err := json.Unmarshal(ss.Spec, &sc); err != nil {
		return none, time.Time{}, fmt.Errorf("source %s: stored schedule: %w", src.ID, err)
	}
	return sc, ss.LastRun, nil
}

// storeSchedule validates and stores a schedule, counting its first slot
// from now.
func (m *Manager) storeSchedule(ctx context.Context, tx store.Tx, src directory.Source, sc schedule.Schedule) error {
	if err := scheduleError(sc.Validate()); err != nil {
		return err
	}
	spec, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return tx.SetSourceSchedule(ctx, store.SourceSchedule{SourceID: src.ID, AccountID: src.AccountID, Spec: spec, LastRun: m.now()})
}

// nextRuns lists up to n slots of the schedule after now.
func nextRuns(sc schedule.Schedule, lastRun, now time.Time, n int) []time.Time {
	_, next := schedule.Due(sc, lastRun, now)
	var out []time.Time
	for !next.IsZero() && len(out) < n {
		out = append(out, next)
		var ok bool
		if next, ok = sc.Next(next); !ok {
			break
		}
	}
	return out
}

// RunDueSchedules queues a sync of every source whose schedule is due
// now, and returns how many it queued. A schedule missed while the service
// was down fires once, for its latest slot, not once per missed slot; a
// source turned off lets its slot pass. The service's scheduler calls it
// every tick, in every process: of the processes that find a slot due, one
// fires it (fireSlot), and the store refuses a second run of one slot.
func (m *Manager) RunDueSchedules(ctx context.Context) (int, error) {
	all, err := m.d.Store.SourceSchedules(ctx)
	if err != nil {
		return 0, fmt.Errorf("scheduler: list schedules: %w", err)
	}
	now := m.now()
	fired := 0
	for _, ss := range all {
		var sc schedule.Schedule
		if err := json.Unmarshal(ss.Spec, &sc); err != nil {
			m.d.Logger.Error("scheduler: unreadable schedule", "source", ss.SourceID, "err", err)
			continue
		}
		slot, due := dueSlot(sc, ss.LastRun, now)
		if !due {
			continue
		}
		run, queued, err := m.fireSlot(ctx, ss, slot, now)
		if err != nil {
			return fired, err
		}
		if !queued {
			continue
		}
		if _, err := m.enqueue(ctx, run, false); err != nil {
			m.d.Logger.Warn("scheduler: sync not started", "source", ss.SourceID, "run", run.ID, "err", err)
			continue
		}
		fired++
		m.d.Logger.Info("scheduled sync", "account", run.AccountID, "source", run.SourceID, "schedule", sc.String(),
			"slot", slot.UTC().Format(time.RFC3339), "run", run.ID)
	}
	return fired, nil
}

// maxSlotWalk bounds the slots dueSlot steps over after a long stop.
const maxSlotWalk = 100_000

// dueSlot returns the latest slot of the schedule at or before now that
// came after lastRun, if one did. Every process that reads the same
// lastRun finds the same slot (up to the moment each reads the clock).
func dueSlot(sc schedule.Schedule, lastRun, now time.Time) (time.Time, bool) {
	if due, _ := schedule.Due(sc, lastRun, now); !due {
		return time.Time{}, false
	}
	slot, _ := sc.Next(lastRun)
	for range maxSlotWalk {
		n, ok := sc.Next(slot)
		if !ok || n.After(now) {
			break
		}
		slot = n
	}
	return slot, true
}

// errSlotTaken rolls back a firing another process made first.
var errSlotTaken = errors.New("the slot was fired by another process")

// fireSlot records that the schedule fired now and, when its source is on
// and has no run queued already, queues the slot's run, in one
// transaction. It does neither (queued false, no error) when the schedule
// changed meanwhile, another process fired the slot first, or the source
// went: a crash can then neither lose the slot's run nor run it twice.
func (m *Manager) fireSlot(ctx context.Context, ss store.SourceSchedule, slot, now time.Time) (directory.Run, bool, error) {
	var run directory.Run
	queued := false
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		queued = false
		cur, err := tx.SourceSchedule(ctx, ss.SourceID)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.Spec, ss.Spec) || !cur.LastRun.Equal(ss.LastRun) {
			return nil // fired by another process, or changed: it counts from its change
		}
		cur.LastRun = now
		if err := tx.SetSourceSchedule(ctx, cur); err != nil {
			return err
		}
		src, err := tx.Source(ctx, ss.AccountID, ss.SourceID)
		if err != nil || !src.Enabled {
			return err
		}
		if q, err := queuedRun(ctx, tx, src, false); err != nil || q != nil {
			return err // a run still queued serves this slot too
		}
		actor := Actor{AccountID: src.AccountID, Role: RoleAdministrator, Via: ViaSchedule, Name: "schedule"}
		run = newRun(src, SyncRequest{}, actor, directory.OutcomeQueued, now)
		run.Slot = slot
		if err := tx.CreateRun(ctx, &run); err != nil {
			if errors.Is(err, store.ErrAlreadyExists) {
				return errSlotTaken
			}
			return err
		}
		queued = true
		return nil
	})
	switch {
	case errors.Is(err, errSlotTaken), errors.Is(err, store.ErrNotFound):
		return run, false, nil // taken by another process; or the source went meanwhile
	case err != nil:
		return run, false, fmt.Errorf("scheduler: fire the schedule of %s: %w", ss.SourceID, err)
	}
	return run, queued, nil
}

// slotEnd is when the source's next scheduled slot starts: retries of a
// scheduled run must end before it. Zero when the source has no schedule.
func (m *Manager) slotEnd(ctx context.Context, src directory.Source) time.Time {
	sc, last, err := m.storedSchedule(ctx, m.d.Store, src)
	if err != nil {
		return time.Time{}
	}
	_, next := schedule.Due(sc, last, m.now())
	return next
}
