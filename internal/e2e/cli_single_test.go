package e2e

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
)

// TestCLISingleUserSyncWithNormalizedUsernames runs, as processes, what
// issue 9 found deleting a user: usernames normalized to the UPN's prefix,
// a full sync, then "sync --user" with a username that "users list" shows.
// Nobody is deleted, and the user is synced.
func TestCLISingleUserSyncWithNormalizedUsernames(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 40, Groups: 4, Seed: 9})
	c := newCLI(t, w)
	c.must("", "source", "set", "entra", "--normalize-usernames")
	c.must("", "sync", "entra")
	var users []directory.User
	if err := json.Unmarshal(c.must("", "users", "list", "--json"), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) == 0 {
		t.Fatal("no users after the first sync")
	}
	who := users[len(users)/2]
	out := c.must("", "sync", "entra", "--user", who.Username, "--json")
	var run directory.Run
	if err := json.Unmarshal(out, &run); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if run.Outcome != directory.OutcomeSucceeded || run.Counts.Deleted != 0 {
		t.Fatalf("sync --user %s: %s %+v (%s)", who.Username, run.Outcome, run.Counts, run.Reason)
	}
	var trash []directory.User
	if err := json.Unmarshal(c.must("", "users", "list", "--state", "pending_deletion", "--json"), &trash); err != nil {
		t.Fatal(err)
	}
	if len(trash) != 0 {
		t.Fatalf("sync --user %s trashed %d users", who.Username, len(trash))
	}
	// A name nobody knows: refused as not found (exit 2), nothing changed.
	out, err := c.command(t.Context(), "", "sync", "entra", "--user", "nobody-by-that-name").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "nothing changed") {
		t.Fatalf("sync --user of an unknown name: %v\n%s", err, out)
	}
}

// TestCLIMaxCursorAge: "source set --max-cursor-age" sets how often a
// source is reconciled in full, "source show" says so, and a value out of
// range is refused with exit 2, naming the setting.
func TestCLIMaxCursorAge(t *testing.T) {
	w := newWorld(t, entraemu.Options{Users: 5, Groups: 1, Seed: 2})
	c := newCLI(t, w)
	c.must("", "source", "set", "entra", "--max-cursor-age", "36h")
	if out := c.must("", "source", "show", "entra"); !strings.Contains(string(out), "Full reconciliation: at least every 36h.") {
		t.Fatalf("source show after --max-cursor-age 36h:\n%s", out)
	}
	out, err := c.command(t.Context(), "", "source", "set", "entra", "--max-cursor-age", "10m").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), `max_cursor_age: "10m": between 1h and 365d, or off`) {
		t.Fatalf("--max-cursor-age 10m: %v\n%s", err, out)
	}
}
