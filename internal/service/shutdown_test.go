package service

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestShutdownCancelsARunCleanly stops the service while a slow sync is
// reading: after the grace period the run is cancelled, its record says
// it ended without applying, and the directory holds nothing of it.
func TestShutdownCancelsARunCleanly(t *testing.T) {
	w := newWorld(t, func(o *entraemu.Options, c *Config) {
		o.Users, o.Groups, o.Latency = 500, 5, 100*time.Millisecond
		c.ShutdownGrace = 300 * time.Millisecond
	})
	src := w.addSource("slow", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.svc.Run(ctx, ln) }()
	run, err := w.parts.Manager.RequestSync(t.Context(), w.admin(), src.ID, manage.SyncRequest{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the run is reading: the cancellation must meet a run.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cur, _ := w.parts.Manager.Run(t.Context(), w.admin(), run.ID)
		if cur.Outcome == directory.OutcomeRunning {
			break
		}
		if cur.Outcome != directory.OutcomeQueued || time.Now().After(deadline) {
			t.Fatalf("the run never ran: %+v", cur)
		}
	}
	stopped := time.Now()
	stop()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if took := time.Since(stopped); took > 10*time.Second {
		t.Fatalf("shutdown took %s", took)
	}
	ended, _ := w.parts.Manager.Run(t.Context(), w.admin(), run.ID)
	if ended.Outcome == directory.OutcomeRunning || ended.Outcome == directory.OutcomeQueued || ended.Outcome == directory.OutcomeSucceeded ||
		ended.FinishedAt.IsZero() || ended.Reason == "" {
		t.Fatalf("the cancelled run is recorded as %+v", ended)
	}
	page, err := w.parts.Manager.Users(t.Context(), w.admin(), manage.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Fatalf("a cancelled run left %d users", len(page.Items))
	}
	if w.svc.Runner.Busy(src.ID) {
		t.Fatal("run still registered")
	}
}

// captured is an Executor that keeps the job it is given.
type captured struct{ job manage.Job }

func (c *captured) Enqueue(j manage.Job) error { c.job = j; return nil }

// TestRunnerWaitsOnTheClockAndShutsDown: a job due later waits on the
// clock without a worker and runs when its time comes; one still waiting
// at shutdown is handed on to other processes; nothing is accepted after.
func TestRunnerWaitsOnTheClockAndShutsDown(t *testing.T) {
	w := newWorld(t)
	src := w.addSource("s", nil)
	m := w.parts.Manager
	queue := func() manage.Job {
		var c captured
		m.SetExecutor(&c)
		defer m.SetExecutor(w.svc.Runner)
		if _, err := m.RequestSync(t.Context(), w.admin(), src.ID, manage.SyncRequest{}); err != nil {
			t.Fatal(err)
		}
		c.job.NotBefore = w.clock.Now().Add(time.Hour)
		return c.job
	}
	due := queue()
	if err := w.svc.Runner.Enqueue(due); err != nil {
		t.Fatal(err)
	}
	if w.svc.Runner.Busy(src.ID) {
		t.Fatal("a job due in an hour took the source's queue")
	}
	w.clock.Advance(time.Hour)
	if run := w.waitRun(due.Run.ID); run.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("the job due now: %+v", run)
	}
	waiting := queue()
	if err := w.svc.Runner.Enqueue(waiting); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(t, 10*time.Second)
	defer cancel()
	if err := w.svc.Runner.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The job waiting at shutdown is handed on: queued still, and free
	// for another process to claim.
	run, _ := m.Run(t.Context(), w.admin(), waiting.Run.ID)
	if run.Outcome != directory.OutcomeQueued {
		t.Fatalf("a job waiting at shutdown: %s %q", run.Outcome, run.Reason)
	}
	claimed, err := m.ClaimQueued(t.Context(), "another process", 10, time.Minute)
	if err != nil || len(claimed) != 1 || claimed[0].Run.ID != waiting.Run.ID {
		t.Fatalf("another process claimed %+v (%v), want the run handed on", claimed, err)
	}
	if err := w.svc.Runner.Enqueue(manage.Job{Run: run}); err == nil {
		t.Fatal("a job accepted after shutdown")
	}
	// (A dry run: a request for a real one joins the run handed on.)
	refused, err := m.RequestSync(t.Context(), w.admin(), src.ID, manage.SyncRequest{DryRun: true})
	if manage.KindOf(err) != manage.Unavailable || refused.Outcome != directory.OutcomeCancelled {
		t.Fatalf("request after shutdown: %+v %v", refused, err)
	}
}
