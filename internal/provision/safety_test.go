package provision_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/store"
)

// TestStagingWritesNothing: a staging target reads the tenant and records
// its whole plan, and the tenant's change log stays as it was; turned
// off, the same plan is written.
func TestStagingWritesNothing(t *testing.T) {
	w := newWorld(t, 5, provision.Settings{Staging: true})
	dom := w.tenant.Domain()
	ann := w.addUser("Ann Lee", "ann@"+dom, true)
	w.addGroup("Sales", ann)
	_, before := w.tenant.LogBounds()
	res := w.cycle(provision.CycleOptions{})
	if _, after := w.tenant.LogBounds(); after != before {
		t.Fatalf("staging changed the tenant: change log %d -> %d", before, after)
	}
	run, err := w.st.ExportRun(w.ctx, w.acc.ID, res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []provision.Step
	if err := json.Unmarshal(run.Plan, &steps); err != nil {
		t.Fatal(err)
	}
	if run.Outcome != provision.RunStaged || !run.Staging || len(steps) != 3 || steps[0].Outcome != provision.OutcomePlanned {
		t.Fatalf("staged run: %s, %d steps %+v", run.Outcome, len(steps), steps)
	}
	if links, _ := w.st.TargetLinks(w.ctx, w.target.ID); len(links) != 0 {
		t.Fatalf("staging recorded links: %+v", links)
	}
	w.setSettings(provision.Settings{})
	if res := w.cycle(provision.CycleOptions{}); res.Run.Outcome != provision.RunSucceeded || res.Summary.Done != 3 {
		t.Fatalf("after staging: %s, %+v", res.Run.Outcome, res.Summary)
	}
	if _, ok := w.cloudUser(anchorOf("Ann Lee")); !ok {
		t.Fatal("Ann was not exported once staging was turned off")
	}
}

// TestThresholdStopsMassDeletion: 600 deletions are more than the default
// threshold (500): the cycle stops, writes nothing and records the plan;
// confirmed, it deletes them.
func TestThresholdStopsMassDeletion(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	dom := w.tenant.Domain()
	var users []directory.User
	for i := range 600 {
		users = append(users, w.addUser(fmt.Sprintf("User %03d", i), fmt.Sprintf("u%03d@%s", i, dom), true))
	}
	if res := w.cycle(provision.CycleOptions{}); res.Summary.Done != 600 {
		t.Fatalf("export of 600 users: %+v", res.Summary)
	}
	w.update(func(tx store.Tx) error {
		for _, u := range users {
			u.State = directory.StateTrash
			if err := tx.UpdateUser(w.ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	_, before := w.tenant.LogBounds()
	res, err := w.x.Cycle(w.ctx, w.target, w.conn, provision.CycleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := w.st.ExportRun(w.ctx, w.acc.ID, res.Run.ID)
	if stored.Outcome != provision.RunStopped || res.Summary.Planned[provision.OpDeleteUser] != 600 {
		t.Fatalf("600 deletions: outcome %s (%s), planned %v", stored.Outcome, stored.Reason, res.Summary.Planned)
	}
	if _, after := w.tenant.LogBounds(); after != before {
		t.Fatalf("a stopped cycle changed the tenant")
	}
	if n := len(w.tenant.Users()); n != 601 {
		t.Fatalf("the tenant has %d users after a stopped cycle, want 601", n)
	}
	res = w.cycle(provision.CycleOptions{AllowDeletes: true})
	if res.Run.Outcome != provision.RunSucceeded || len(w.tenant.Users()) != 1 || len(w.tenant.DeletedUsers()) != 600 {
		t.Fatalf("confirmed: %s, %d users left, %d in deleted items", res.Run.Outcome, len(w.tenant.Users()), len(w.tenant.DeletedUsers()))
	}
}

// TestThrottledWritesAndExpiredToken: writes answered 429 (inside $batch)
// are sent again after Retry-After, and an access token that expires in
// the middle of a cycle is renewed; the tenant ends exactly as planned.
func TestThrottledWritesAndExpiredToken(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	dom := w.tenant.Domain()
	var members []directory.User
	for i := range 45 {
		members = append(members, w.addUser(fmt.Sprintf("User %02d", i), fmt.Sprintf("u%02d@%s", i, dom), i%7 != 0))
	}
	w.addGroup("All", members...)
	w.tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/users", Method: http.MethodPost, Every: 4, Times: 6, Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	expired := false
	res := w.cycle(provision.CycleOptions{Progress: func(done, total int) {
		if !expired {
			w.tenant.ExpireAccessTokens()
			expired = true
		}
	}})
	if res.Run.Outcome != provision.RunSucceeded || res.Summary.Failed != 0 || res.Summary.Throttled == 0 {
		for _, s := range res.Steps {
			if s.Outcome == provision.OutcomeFailed {
				t.Errorf("failed: %s %s: %s %s", s.Op, s.Anchor, s.Code, s.Error)
			}
		}
		t.Fatalf("cycle: %s %q, %+v", res.Run.Outcome, res.Run.Reason, res.Summary)
	}
	for _, u := range members {
		cu, ok := w.cloudUser(u.ImmutableID)
		if !ok || cu.AccountEnabled != u.Enabled || cu.UserPrincipalName != u.Username {
			t.Fatalf("%s in the tenant: %v %+v", u.Username, ok, cu)
		}
	}
	if n := w.tenant.Stats().LoginByKind["token"]; n < 2 {
		t.Errorf("%d tokens issued: the expired one was not renewed", n)
	}
	if _, ms, _ := w.cloudGroup("All"); len(ms) != 45 {
		t.Fatalf("All has %d members in the tenant, want 45", len(ms))
	}
	if again := w.cycle(provision.CycleOptions{Full: true}); len(again.Steps) != 0 {
		t.Fatalf("an initial cycle after the throttled one plans %v", again.Summary.Planned)
	}
}

// TestOneCycleAtATime: a cycle recorded as running (another process's)
// keeps a second one from starting; one whose process died long ago is
// recorded as interrupted and a new one runs.
func TestOneCycleAtATime(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	w.addUser("Ann Lee", "ann@"+w.tenant.Domain(), true)
	other := store.ExportRun{AccountID: w.acc.ID, TargetID: w.target.ID, Mode: provision.ModeDelta, Outcome: provision.RunRunning, StartedAt: time.Now().Add(-time.Minute)}
	w.update(func(tx store.Tx) error { return tx.CreateExportRun(w.ctx, &other) })
	if _, err := w.x.Cycle(w.ctx, w.target, w.conn, provision.CycleOptions{}); !errors.Is(err, provision.ErrBusy) {
		t.Fatalf("a second cycle: %v, want busy", err)
	}
	if _, ok := w.cloudUser(anchorOf("Ann Lee")); ok {
		t.Fatal("the refused cycle wrote")
	}
	// That one ends; another, started past StaleRun ago, is still
	// recorded as running: its process died.
	stale := store.ExportRun{AccountID: w.acc.ID, TargetID: w.target.ID, Mode: provision.ModeDelta, Outcome: provision.RunRunning, StartedAt: time.Now().Add(-provision.StaleRun - time.Minute)}
	other.Outcome = provision.RunFailed
	w.update(func(tx store.Tx) error {
		if err := tx.UpdateExportRun(w.ctx, other); err != nil {
			return err
		}
		return tx.CreateExportRun(w.ctx, &stale)
	})
	if res := w.cycle(provision.CycleOptions{}); res.Run.Outcome != provision.RunSucceeded {
		t.Fatalf("after a stale run: %s", res.Run.Outcome)
	}
	dead, _ := w.st.ExportRun(w.ctx, w.acc.ID, stale.ID)
	if dead.Outcome != provision.RunFailed || !strings.Contains(dead.Reason, "interrupted") {
		t.Fatalf("the dead run: %+v", dead)
	}
}

// TestInterruptedCycleAndExpiredDelta: a cycle cancelled halfway is
// recorded as failed, and the next one finishes the job without creating
// anything twice; when the tenant refuses the saved delta link (expired),
// the cycle reads it from scratch and finds nothing to change.
func TestInterruptedCycleAndExpiredDelta(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	dom := w.tenant.Domain()
	var us []directory.User
	for i := range 50 {
		us = append(us, w.addUser(fmt.Sprintf("User %02d", i), fmt.Sprintf("u%02d@%s", i, dom), true))
	}
	w.addGroup("All", us...)
	ctx, cancel := context.WithCancel(w.ctx)
	res, err := w.x.Cycle(ctx, w.target, w.conn, provision.CycleOptions{Progress: func(done, total int) { cancel() }})
	if err == nil {
		t.Fatal("a cancelled cycle reported no error")
	}
	stored, _ := w.st.ExportRun(w.ctx, w.acc.ID, res.Run.ID)
	if stored.Outcome != provision.RunFailed || stored.FinishedAt.IsZero() {
		t.Fatalf("the cancelled run is recorded as %+v", stored)
	}
	if n := len(w.tenant.Users()); n < 2 || n > 50 {
		t.Fatalf("after one batch the tenant has %d users", n)
	}
	res = w.cycle(provision.CycleOptions{})
	if res.Run.Outcome != provision.RunSucceeded || res.Summary.Planned[provision.OpCreateUser] >= 50 {
		t.Fatalf("the cycle after the interruption: %s %v", res.Run.Outcome, res.Summary.Planned)
	}
	if n := len(w.tenant.Users()); n != 51 {
		t.Fatalf("the tenant has %d users, want 51 (none twice)", n)
	}
	if _, ms, _ := w.cloudGroup("All"); len(ms) != 50 {
		t.Fatalf("All has %d members", len(ms))
	}
	w.tenant.ExpireDeltaTokens()
	res = w.cycle(provision.CycleOptions{})
	if !res.Summary.ReadFull || len(res.Steps) != 0 {
		t.Fatalf("after the delta link expired: read full %v, plan %v", res.Summary.ReadFull, res.Summary.Planned)
	}
}

// TestHeartbeatKeepsARunningCycle: a cycle started long ago whose
// heartbeat is recent is alive, and keeps a second one from starting.
func TestHeartbeatKeepsARunningCycle(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	sum, _ := json.Marshal(provision.Summary{Heartbeat: time.Now().Add(-time.Minute)})
	long := store.ExportRun{AccountID: w.acc.ID, TargetID: w.target.ID, Mode: provision.ModeFull, Outcome: provision.RunRunning,
		StartedAt: time.Now().Add(-time.Hour), Summary: sum}
	w.update(func(tx store.Tx) error { return tx.CreateExportRun(w.ctx, &long) })
	if _, err := w.x.Cycle(w.ctx, w.target, w.conn, provision.CycleOptions{}); !errors.Is(err, provision.ErrBusy) {
		t.Fatalf("a cycle beside a live one: %v", err)
	}
}

// TestWriteBatchNotResent: a $batch of writes answered 500 is not sent
// again (Graph may have applied it); the cycle fails, recorded, and the
// next one reconciles from what the tenant holds.
func TestWriteBatchNotResent(t *testing.T) {
	w := newWorld(t, 1, provision.Settings{})
	ann := w.addUser("Ann Lee", "ann@"+w.tenant.Domain(), true)
	w.addGroup("Sales", ann)
	w.tenant.InjectFault(entraemu.Fault{PathPrefix: "/v1.0/$batch", Method: http.MethodPost, Times: 1, Status: http.StatusInternalServerError})
	res, err := w.x.Cycle(w.ctx, w.target, w.conn, provision.CycleOptions{})
	if err == nil || res.Run.Outcome != provision.RunFailed || !strings.Contains(err.Error(), "not sent again") {
		t.Fatalf("a 500 on a write batch: %v, %s", err, res.Run.Outcome)
	}
	if res := w.cycle(provision.CycleOptions{}); res.Run.Outcome != provision.RunSucceeded {
		t.Fatalf("the next cycle: %s", res.Run.Outcome)
	}
	if _, ms, ok := w.cloudGroup("Sales"); !ok || len(ms) != 1 {
		t.Fatalf("Sales after the retry: %v %v", ok, ms)
	}
}
