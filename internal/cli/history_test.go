package cli

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/entraemu"
)

// TestUsersHistory: "dirsync users history" lists what applied syncs
// changed about a user, newest first (the department's update, then its
// creation), leaves a preview out, cuts at --limit and says so, and
// refuses an unknown user with exit 2.
func TestUsersHistory(t *testing.T) {
	w := newCLIWorld(t, 3, 0)
	w.ok("", "sync", "t")
	tu := w.tenant.Users()[0]
	w.tenant.UpdateUser(tu.ID, func(x *entraemu.User) { x.Department = "Night Research" })
	w.ok("", "sync", "t", "--dry-run")
	var hist []struct {
		Action     string
		Source     string
		AppliedAt  string `json:"applied_at"`
		Attributes []struct{ Attribute, Before, After any }
	}
	w.jsonOf(&hist, "users", "history", tu.UserPrincipalName)
	if len(hist) != 1 || hist[0].Action != "created" || hist[0].Source != "t" || hist[0].AppliedAt == "" {
		t.Fatalf("after a sync and a preview: %+v", hist)
	}
	w.ok("", "sync", "t")
	out := w.ok("", "users", "history", tu.UserPrincipalName)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.Contains(lines[1], "updated") || !strings.Contains(lines[1], "department: ") ||
		!strings.Contains(lines[1], "→ Night Research") || !strings.Contains(lines[2], "created") {
		t.Fatalf("history table:\n%s", out)
	}
	if out := w.ok("", "users", "history", tu.UserPrincipalName, "--limit", "1"); !strings.Contains(out, "updated") ||
		strings.Contains(out, "created") || !strings.Contains(out, "older ones with --limit") {
		t.Fatalf("--limit 1:\n%s", out)
	}
	if out, code := w.run("", "users", "history", "nobody@nowhere.example"); code != 2 || !strings.Contains(out, "no user") {
		t.Fatalf("an unknown user: exit %d\n%s", code, out)
	}
	if out, code := w.run("", "users", "history", tu.UserPrincipalName, "--limit", "0"); code != 2 || !strings.Contains(out, "--limit") {
		t.Fatalf("--limit 0: exit %d\n%s", code, out)
	}
}
