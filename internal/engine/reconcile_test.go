package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/scope"
	"github.com/dirsync/dirsync/internal/store"
)

// blindSource reads incrementally but never reports deletions, as a
// generic LDAP server read by modifyTimestamp.
type blindSource struct{ *incSource }

func (blindSource) ReportsDeletions(string) bool { return false }

var _ connector.DeletionReporter = blindSource{}

// Issue 9, defect 8: a source whose incremental reads do not report
// deletions is reconciled in full once its last full reconciliation is
// older than its maximum cursor age (24h by default), by the runs a
// schedule asks for (incremental ones) alone.
func TestPeriodicFullReconciliation(t *testing.T) {
	f := newFixture(t)
	src := blindSource{&incSource{source: sample()}}
	if run := f.sync(src, engine.Options{Trigger: "schedule"}); run.Kind != directory.RunFull {
		t.Fatalf("first run %s", run.Kind)
	}
	src.users = src.users[1:] // u1 leaves; the incremental reads never say so
	for hour := 1; hour <= 23; hour++ {
		f.clk.Advance(time.Hour)
		if run := f.sync(src, engine.Options{Trigger: "schedule"}); run.Kind != directory.RunDelta || run.Counts.Deleted != 0 {
			t.Fatalf("hour %d: %s run, %+v", hour, run.Kind, run.Counts)
		}
	}
	f.clk.Advance(time.Hour)
	run := f.sync(src, engine.Options{Trigger: "schedule"})
	if run.Kind != directory.RunFull || run.Counts.Deleted != 1 || !strings.Contains(run.Reason, "periodic full reconciliation: the last was 24h0m0s ago") ||
		!strings.Contains(run.Reason, "do not report deletions") {
		t.Fatalf("after 24h: %s run (%s), %+v", run.Kind, run.Reason, run.Counts)
	}
	if u := f.userByName("user01@acme.example"); u.State != directory.StateTrash {
		t.Fatalf("the deleted user is %s", u.State)
	}
	// The full run restarted the count.
	f.clk.Advance(time.Hour)
	if run := f.sync(src, engine.Options{Trigger: "schedule"}); run.Kind != directory.RunDelta {
		t.Fatalf("the run after the full one: %s (%s)", run.Kind, run.Reason)
	}
}

// A source whose incremental reads report deletions gets its full
// reconciliation weekly by default, at its own max_cursor_age when set,
// never with "off"; a cursor saved bare by an earlier version has no
// reconciliation time, and its next run is full.
func TestMaxCursorAge(t *testing.T) {
	f := newFixture(t)
	src := &incSource{source: sample()}
	f.sync(src, engine.Options{})
	f.clk.Advance(6 * 24 * time.Hour)
	if run := f.sync(src, engine.Options{}); run.Kind != directory.RunDelta {
		t.Fatalf("after 6 days: %s", run.Kind)
	}
	f.clk.Advance(24 * time.Hour)
	if run := f.sync(src, engine.Options{}); run.Kind != directory.RunFull {
		t.Fatalf("after 7 days: %s", run.Kind)
	}
	f.setSettings(scope.Settings{MaxCursorAge: "2h"})
	f.clk.Advance(2 * time.Hour)
	if run := f.sync(src, engine.Options{}); run.Kind != directory.RunFull || !strings.Contains(run.Reason, "max_cursor_age 2h0m0s") {
		t.Fatalf("max_cursor_age 2h, after 2h: %s (%s)", run.Kind, run.Reason)
	}
	f.setSettings(scope.Settings{MaxCursorAge: "off"})
	f.clk.Advance(400 * 24 * time.Hour)
	if run := f.sync(src, engine.Options{}); run.Kind != directory.RunDelta {
		t.Fatalf("max_cursor_age off: %s (%s)", run.Kind, run.Reason)
	}
	f.setSettings(scope.Settings{})
	if err := f.st.Update(f.ctx, func(tx store.Tx) error { return tx.SetSourceState(f.ctx, f.src.ID, "cursor-from-an-earlier-version") }); err != nil {
		t.Fatal(err)
	}
	if run := f.sync(src, engine.Options{}); run.Kind != directory.RunFull || !strings.Contains(run.Reason, "none recorded yet") {
		t.Fatalf("bare cursor: %s (%s)", run.Kind, run.Reason)
	}
}
