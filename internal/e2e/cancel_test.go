package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
)

// TestInterruptedSyncIsRecordedCancelled sends SIGINT (Ctrl-C) to "dirsync
// sync" in the middle of its run: the run is recorded as cancelled by the
// interrupt, "runs list --json" says so, and it leaves no staged rows.
func TestInterruptedSyncIsRecordedCancelled(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 1500, Groups: 60, Seed: 5, Latency: 20 * time.Millisecond})
	c := newCLI(t, w)
	st := c.store()
	cmd := c.command(context.Background(), "", "sync", "entra")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Interrupt once the run is recorded and reading.
	deadline := time.Now().Add(30 * time.Second)
	for {
		accs, _ := st.Accounts(t.Context())
		if len(accs) == 1 {
			if runs, _ := st.Runs(t.Context(), accs[0].ID, "", 1); len(runs) == 1 && runs[0].Outcome == directory.OutcomeRunning {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the sync ended before it could be interrupted: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no running run recorded within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil {
		t.Fatal("an interrupted sync exited 0")
	}
	var runs []directory.Run
	if err := json.Unmarshal(c.must("", "runs", "list", "--json"), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Outcome != directory.OutcomeCancelled || !strings.HasPrefix(runs[0].Reason, "cancelled: interrupt") ||
		runs[0].Duration() <= 0 {
		t.Fatalf("runs list after Ctrl-C: %+v", runs)
	}
	if n, err := st.StagedCount(t.Context(), ""); err != nil || n != 0 {
		t.Fatalf("%d staged rows left (%v)", n, err)
	}
	if users, _ := st.Users(t.Context(), runs[0].AccountID, storeAll()); len(users.Items) != 0 {
		t.Fatalf("an interrupted first sync left %d users", len(users.Items))
	}
}
