package manage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
	"github.com/dirsync/dirsync/internal/scope"
)

// TestRequestedRunsAreRecordedRuns: a request is a run at once, queued; the
// executor runs that run id; later requests join the queued run; a refused
// request is a run too, with its reason.
func TestRequestedRunsAreRecordedRuns(t *testing.T) {
	w := newWorld(t, 20, 2)
	ctx := t.Context()
	src := w.addSource(w.owner, "s")
	admin := manage.Actor{AccountID: w.owner.AccountID, AccountName: w.owner.AccountName, Role: manage.RoleAdministrator, Via: manage.ViaAPI}
	first, err := w.m.RequestSync(ctx, admin, "s", manage.SyncRequest{})
	if err != nil || first.Outcome != directory.OutcomeQueued || first.Trigger != "api" {
		t.Fatalf("request: %+v %v", first, err)
	}
	stored, _ := w.m.Run(ctx, w.owner, first.ID)
	if stored.Outcome != directory.OutcomeQueued || stored.Kind != directory.RunDelta {
		t.Fatalf("stored: %+v", stored)
	}
	again, err := w.m.RequestSync(ctx, admin, "s", manage.SyncRequest{Full: true})
	if err != nil || again.ID != first.ID || again.Kind != directory.RunFull {
		t.Fatalf("second request: %+v %v, want the queued run, now full", again, err)
	}
	jobs := w.jobs.take()
	if len(jobs) != 1 || jobs[0].Run.ID != first.ID {
		t.Fatalf("jobs %+v", jobs)
	}
	run, next, err := w.m.ExecuteRun(ctx, jobs[0])
	if err != nil || next != nil || run.ID != first.ID || run.Outcome != directory.OutcomeSucceeded || run.Kind != directory.RunFull || run.Counts.Created == 0 {
		t.Fatalf("executed: %+v next %v err %v", run, next, err)
	}
	// Executing it again does nothing: it is no longer queued.
	if again, _, err := w.m.ExecuteRun(ctx, jobs[0]); err != nil || again.Outcome != directory.OutcomeSucceeded || again.Counts != run.Counts {
		t.Fatalf("second execution: %+v %v", again, err)
	}

	// A source turned off: the request is recorded, cancelled, with why.
	if _, err := w.m.SetEnabled(ctx, w.owner, "s", false); err != nil {
		t.Fatal(err)
	}
	refused, err := w.m.RequestSync(ctx, admin, "s", manage.SyncRequest{})
	e := wantKind(t, err, manage.Conflict, "request for a source turned off")
	if e.RunID == "" || e.RunID != refused.ID || refused.Outcome != directory.OutcomeCancelled || !strings.Contains(refused.Reason, "turned off") {
		t.Fatalf("refused: %+v %+v", refused, e)
	}
	if stored, _ := w.m.Run(ctx, w.owner, refused.ID); stored.Outcome != directory.OutcomeCancelled || stored.FinishedAt.IsZero() {
		t.Fatalf("refused run stored as %+v", stored)
	}
	// Queued while on, executed after it was turned off: cancelled.
	w.m.SetEnabled(ctx, w.owner, "s", true)
	queued, _ := w.m.RequestSync(ctx, admin, "s", manage.SyncRequest{})
	w.m.SetEnabled(ctx, w.owner, "s", false)
	if run, _, _ := w.m.ExecuteRun(ctx, w.jobs.take()[0]); run.ID != queued.ID || run.Outcome != directory.OutcomeCancelled {
		t.Fatalf("queued then turned off: %+v", run)
	}
	// Shutting down: the executor refuses, the run says so.
	w.m.SetEnabled(ctx, w.owner, "s", true)
	w.jobs.shut = true
	late, err := w.m.RequestSync(ctx, admin, src.ID, manage.SyncRequest{})
	if e := wantKind(t, err, manage.Unavailable, "request while shutting down"); e.RunID != late.ID {
		t.Fatalf("%+v", e)
	}
	if stored, _ := w.m.Run(ctx, w.owner, late.ID); stored.Outcome != directory.OutcomeCancelled || !strings.Contains(stored.Reason, "shutting down") {
		t.Fatalf("stored %+v", stored)
	}
	// A process without sync workers does not record a request it cannot run.
	w.m.SetExecutor(nil)
	_, err = w.m.RequestSync(ctx, admin, "s", manage.SyncRequest{})
	wantKind(t, err, manage.Unavailable, "no executor")
}

// TestScheduledRunRetriesWithinItsSlot: a scheduled run that fails
// transiently is retried after 1, then 4 minutes (on the clock), each
// attempt a run whose reason says what comes next; a retry that would not
// start before the next slot is not made (issue 9, point 9).
func TestScheduledRunRetriesWithinItsSlot(t *testing.T) {
	w := newWorld(t, 10, 1)
	ctx := t.Context()
	src := w.addSource(w.owner, "s")
	sc, _ := manage.ParseSchedule("every 10m")
	if _, err := w.m.SetSchedule(ctx, w.owner, "s", sc); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(10 * time.Minute) // 01:10, the first slot
	if n, err := w.m.RunDueSchedules(ctx); n != 1 || err != nil {
		t.Fatalf("fired %d, %v", n, err)
	}
	w.failures.n = 3
	job := w.jobs.take()[0]
	var runs []directory.Run
	for {
		run, next, err := w.m.ExecuteRun(ctx, job)
		runs = append(runs, run)
		if next == nil {
			if err == nil {
				t.Fatalf("the last attempt succeeded; the failures should outlast the slot")
			}
			wantKind(t, err, manage.SourceFailed, "the last attempt")
			break
		}
		if !next.NotBefore.After(w.clock.Now()) || next.Run.ID == run.ID || next.Run.Outcome != directory.OutcomeQueued {
			t.Fatalf("next job %+v at %v", next, w.clock.Now())
		}
		w.clock.Set(next.NotBefore)
		job = *next
	}
	if len(runs) != 3 {
		t.Fatalf("%d attempts, want 3: 01:10, 01:11, 01:15 (a third retry at 01:31 is past the 01:20 slot)", len(runs))
	}
	for i, want := range []string{"retry 1 of 3 in 1m0s", "retry 2 of 3 in 4m0s", ""} {
		stored, _ := w.m.Run(ctx, w.owner, runs[i].ID)
		if stored.Outcome != directory.OutcomeFailed || stored.Trigger != "schedule" || !strings.Contains(stored.Reason, "503") ||
			(want != "" && !strings.Contains(stored.Reason, want)) || (want == "" && strings.Contains(stored.Reason, " of 3 in ")) {
			t.Errorf("attempt %d: %s %q", i+1, stored.Outcome, stored.Reason)
		}
	}
	// The next slot's run meets a mended source.
	w.failures.n = 0
	w.clock.Set(time.Date(2026, 3, 10, 1, 20, 0, 0, time.UTC))
	w.m.RunDueSchedules(ctx)
	if run, next, err := w.m.ExecuteRun(ctx, w.jobs.take()[0]); err != nil || next != nil || run.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("next slot: %+v %v", run, err)
	}
	// A run asked for by a person is not retried: they see it failed.
	w.failures.n = 1
	w.m.RequestSync(ctx, w.owner, src.ID, manage.SyncRequest{})
	if _, next, err := w.m.ExecuteRun(ctx, w.jobs.take()[0]); next != nil || manage.KindOf(err) != manage.SourceFailed {
		t.Fatalf("an API run was retried (%v) or did not fail (%v)", next, err)
	}
	// Within a daily slot, the whole series runs and the source mends.
	daily := schedule.DefaultDaily("x", "")
	w.m.SetSchedule(ctx, w.owner, "s", daily)
	w.failures.n = 2
	w.clock.Set(time.Date(2026, 3, 11, 1, 0, 0, 0, time.UTC))
	if n, _ := w.m.RunDueSchedules(ctx); n != 1 {
		t.Fatal("the daily slot did not fire")
	}
	job = w.jobs.take()[0]
	for range 3 {
		run, next, err := w.m.ExecuteRun(ctx, job)
		if next == nil {
			if err != nil || run.Outcome != directory.OutcomeSucceeded {
				t.Fatalf("the third attempt: %+v %v", run, err)
			}
			return
		}
		w.clock.Set(next.NotBefore)
		job = *next
	}
	t.Fatal("more than three attempts")
}

// TestSyncNowRefusesATurnedOffSource: the command line's sync obeys what
// the API's does.
func TestSyncNowRefusesATurnedOffSource(t *testing.T) {
	w := newWorld(t, 5, 1)
	w.addSource(w.owner, "s")
	w.m.SetEnabled(t.Context(), w.owner, "s", false)
	_, err := w.m.SyncNow(t.Context(), w.owner, "s", manage.SyncRequest{})
	if e := wantKind(t, err, manage.Conflict, "sync of a source turned off"); e.Code != manage.CodeTurnedOff {
		t.Fatalf("%+v", e)
	}
	_, err = w.m.SyncUser(t.Context(), w.owner, "s", "someone", false)
	wantKind(t, err, manage.Conflict, "single-user sync of a source turned off")
}

// TestRequestedRunAllowsDeletes: a queued run requested with the
// administrator's confirmation ("Allow and apply" in the console,
// allow_deletes in the API) applies past the deletion limit that stopped
// the run before it.
func TestRequestedRunAllowsDeletes(t *testing.T) {
	w := newWorld(t, 10, 0)
	ctx := t.Context()
	w.addSource(w.owner, "s")
	if _, err := w.m.SyncNow(ctx, w.owner, "s", manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.SetScope(ctx, w.owner, "s", scope.Settings{DeletionLimit: scope.DeletionLimit{MaxObjects: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, u := range w.tenant.Users()[:3] {
		w.tenant.DeleteUser(u.ID)
	}
	if _, err := w.m.RequestSync(ctx, w.owner, "s", manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	stopped, _, err := w.m.ExecuteRun(ctx, w.jobs.take()[0])
	wantKind(t, err, manage.Stopped, "a run past the deletion limit")
	if stopped.Outcome != directory.OutcomeStopped {
		t.Fatalf("stopped run: %+v", stopped)
	}
	if _, err := w.m.RequestSync(ctx, w.owner, "s", manage.SyncRequest{AllowDeletes: true}); err != nil {
		t.Fatal(err)
	}
	run, _, err := w.m.ExecuteRun(ctx, w.jobs.take()[0])
	if err != nil || run.Outcome != directory.OutcomeSucceeded || run.Counts.Deleted != 3 {
		t.Fatalf("allowed run: %+v, %v", run, err)
	}
	trash, _ := w.m.ListTrash(ctx, w.owner, manage.TrashQuery{})
	if len(trash.Users) != 3 {
		t.Errorf("trash holds %d users, want 3", len(trash.Users))
	}
}
