package e2e

import (
	"encoding/json"
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
}
