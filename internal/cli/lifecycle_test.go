package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/store"
)

// cliWorld is an emulated tenant and a database with it as source "t".
type cliWorld struct {
	t      *testing.T
	tenant *entraemu.Tenant
	db     string
}

func newCLIWorld(t *testing.T, users, groups int) *cliWorld {
	t.Helper()
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	tenant, err := entraemu.New(entraemu.Options{Users: users, Groups: groups, Seed: 31})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, srv.CAPEM(), 0o600)
	w := &cliWorld{t: t, tenant: tenant, db: filepath.Join(dir, "db.sqlite")}
	c := srv.Credentials()
	w.ok(c.ClientSecret, "source", "add", "entra", "--name", "t", "--tenant", c.TenantID, "--client-id", c.ClientID,
		"--client-secret-file", "-", "--cloud", "custom", "--authority-url", c.AuthorityURL, "--graph-url", c.GraphURL, "--ca-file", ca)
	return w
}

func (w *cliWorld) run(stdin string, args ...string) (string, int) {
	out, errOut, code := runCLI(w.t, w.db, stdin, args...)
	return out + errOut, code
}

func (w *cliWorld) ok(stdin string, args ...string) string {
	w.t.Helper()
	out, code := w.run(stdin, args...)
	if code != 0 {
		w.t.Fatalf("dirsync %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (w *cliWorld) users(args ...string) []map[string]any {
	w.t.Helper()
	var us []map[string]any
	if err := json.Unmarshal([]byte(w.ok("", append([]string{"users", "list", "--json"}, args...)...)), &us); err != nil {
		w.t.Fatal(err)
	}
	return us
}

func TestScopeRulesThroughTheCLI(t *testing.T) {
	w := newCLIWorld(t, 200, 10)
	w.ok("", "sync", "t")
	all := len(w.users())
	guests := 0
	for _, u := range w.tenant.Users() {
		if u.UserType == "Guest" {
			guests++
		}
	}
	if guests == 0 || guests*5 > all {
		t.Fatalf("%d guests of %d: the test needs a few", guests, all)
	}
	// A preview first: nothing applied.
	w.ok("", "source", "set", "t", "--rule", "exclude user_type=Guest")
	if out := w.ok("", "source", "show", "t"); !strings.Contains(out, "exclude users whose user_type equals Guest") {
		t.Fatalf("source show does not describe the rule:\n%s", out)
	}
	if out := w.ok("", "sync", "t", "--dry-run"); !strings.Contains(out, "nothing was applied") || len(w.users()) != all {
		t.Fatalf("dry run:\n%s", out)
	}
	out := w.ok("", "sync", "t")
	if !strings.Contains(out, "excluded by rule 1: user_type equals Guest") {
		t.Fatalf("the run report lacks the skip reason:\n%s", out)
	}
	if n := len(w.users()); n != all-guests {
		t.Fatalf("%d users after excluding %d guests of %d", n, guests, all)
	}
	trash := len(w.users("--state", "pending_deletion"))
	if trash != guests {
		t.Fatalf("%d users in the trash, want the %d guests", trash, guests)
	}

	// A wrong filter that would empty the directory deletes nobody.
	w.ok("", "source", "set", "t", "--clear-rules", "--rule", "include department=NoSuchDepartment")
	out, code := w.run("", "sync", "t")
	if code != ExitStopped || !strings.Contains(out, "deletion threshold exceeded") || !strings.Contains(out, "--allow-deletes") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if n := len(w.users()); n != all-guests {
		t.Fatalf("a stopped run changed the directory: %d users", n)
	}
	// Back to everyone: the guests come back from the trash with their ids.
	w.ok("", "source", "set", "t", "--clear-rules")
	w.ok("", "sync", "t")
	if n := len(w.users()); n != all {
		t.Fatalf("%d users after clearing the rules, want %d", n, all)
	}
}

func TestSyncedAttributesReadOnlyAndTrashCommands(t *testing.T) {
	w := newCLIWorld(t, 30, 3)
	w.ok("", "sync", "t")
	u := w.tenant.Users()[4]
	out, code := w.run("", "users", "set", u.UserPrincipalName, "--email", "other@x.example")
	if code != ExitConflict || !strings.Contains(out, "managed by source t") {
		t.Fatalf("editing a synced attribute: exit %d\n%s", code, out)
	}
	w.ok("", "users", "set", u.UserPrincipalName, "--tag", "vip", "--notes", "call first")
	var got map[string]any
	json.Unmarshal([]byte(w.ok("", "users", "show", u.UserPrincipalName, "--json")), &got)
	if tags, _ := got["tags"].([]any); len(tags) != 1 || tags[0] != "vip" || got["notes"] != "call first" {
		t.Fatalf("local attributes not kept: %v", got)
	}

	// Deleted at the source: to the trash; restore is refused while the source says gone.
	w.tenant.DeleteUser(u.ID)
	w.ok("", "sync", "t")
	var trash struct {
		Users []map[string]any `json:"users"`
	}
	json.Unmarshal([]byte(w.ok("", "trash", "list", "--json")), &trash)
	if len(trash.Users) != 1 || trash.Users[0]["username"] != u.UserPrincipalName {
		t.Fatalf("trash: %+v", trash)
	}
	id := trash.Users[0]["id"].(string)
	if out, code := w.run("", "trash", "restore", id); code != ExitConflict || !strings.Contains(out, "managed by source t") {
		t.Fatalf("restore of a managed user: exit %d\n%s", code, out)
	}
	// Back at the source: restored with its id and its local data.
	w.tenant.RestoreUser(u.ID)
	w.ok("", "sync", "t")
	json.Unmarshal([]byte(w.ok("", "users", "show", id, "--json")), &got)
	if got["state"] != "active" || got["notes"] != "call first" {
		t.Fatalf("restored user: %v", got)
	}
	// Purge: only what is in the trash, for good.
	if out, code := w.run("", "trash", "purge", id); code != ExitConflict || !strings.Contains(out, "not in the trash") {
		t.Fatalf("purge of a live user: exit %d\n%s", code, out)
	}
	w.tenant.PurgeUser(w.tenant.Users()[5].ID)
	w.ok("", "sync", "t")
	json.Unmarshal([]byte(w.ok("", "trash", "list", "--json")), &trash)
	if len(trash.Users) != 1 {
		t.Fatalf("trash before purge: %+v", trash)
	}
	if out := w.ok("", "trash", "purge", "--expired", "--older-than", "0s"); !strings.Contains(out, "Purged 1") {
		t.Fatalf("purge: %s", out)
	}
	json.Unmarshal([]byte(w.ok("", "trash", "list", "--json")), &trash)
	if len(trash.Users) != 0 {
		t.Fatalf("trash after purge: %+v", trash)
	}
}

func TestOneDomainOneSource(t *testing.T) {
	w := newCLIWorld(t, 10, 1)
	w.ok("", "sync", "t") // a source claims its domain once it has synced
	// The same tenant again in the same account.
	out, code := w.run("secret", "source", "add", "entra", "--name", "again", "--tenant", strings.ToUpper(w.tenant.ID()), "--client-id", "6731de76-14a6-49ae-97bc-6eba6914391e",
		"--client-secret-file", "-", "--cloud", "custom", "--authority-url", "https://127.0.0.1:1", "--graph-url", "https://127.0.0.1:1")
	if code != ExitConflict || !strings.Contains(out, "two sources of one account cannot sync the same domain") {
		t.Fatalf("same tenant twice: exit %d\n%s", code, out)
	}
	// The same tenant in another account of the deployment.
	w.ok("", "account", "create", "other")
	out, code = w.run("secret", "--account", "other", "source", "add", "entra", "--name", "t", "--tenant", w.tenant.ID(), "--client-id", "6731de76-14a6-49ae-97bc-6eba6914391e",
		"--client-secret-file", "-", "--cloud", "custom", "--authority-url", "https://127.0.0.1:1", "--graph-url", "https://127.0.0.1:1")
	if code != ExitConflict || !strings.Contains(out, "another account") {
		t.Fatalf("same tenant in another account: exit %d\n%s", code, out)
	}
}

func TestGroupPickerSearchIsCappedAt100(t *testing.T) {
	w := newCLIWorld(t, 10, 1)
	for i := range 120 {
		if _, err := w.tenant.CreateGroup(entraemu.Group{DisplayName: fmt.Sprintf("Picker %03d", i), SecurityEnabled: true, MailNickname: fmt.Sprintf("picker%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var res struct {
		Results []struct {
			ID   string `json:"external_id"`
			Name string `json:"name"`
		} `json:"results"`
		More bool `json:"more"`
	}
	if err := json.Unmarshal([]byte(w.ok("", "source", "groups", "t", "--search", "Picker", "--json")), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 100 || !res.More {
		t.Fatalf("%d results, more=%v; want 100 and more", len(res.Results), res.More)
	}
	if out := w.ok("", "source", "groups", "t", "--search", "Picker"); !strings.Contains(out, "there are more") {
		t.Fatalf("the table does not say there are more:\n%s", out)
	}
	// Select two of them, flattened: only those groups come in.
	w.ok("", "source", "set", "t", "--group", res.Results[0].ID, "--group", res.Results[1].ID, "--max-delete-percent", "100")
	w.ok("", "sync", "t")
	var groups []map[string]any
	json.Unmarshal([]byte(w.ok("", "groups", "list", "--json")), &groups)
	if len(groups) != 2 {
		t.Fatalf("%d groups after selecting 2", len(groups))
	}
}

// A local user restored from the trash is active again, and the feed says so.
func TestTrashRestoreOfALocalUserWritesItsEvent(t *testing.T) {
	w := newCLIWorld(t, 5, 1)
	w.addLocalUser("local@x.example", "local@x.example")
	st, acc := storeOf(t, w.db)
	u, err := st.UserByUsername(t.Context(), acc.ID, "local@x.example")
	if err != nil {
		t.Fatal(err)
	}
	u.State, u.TrashedAt = directory.StateTrash, time.Now()
	if err := st.Update(t.Context(), func(tx store.Tx) error { return tx.UpdateUser(t.Context(), u) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	w.ok("", "trash", "restore", u.ID)
	if out, code := w.run("", "trash", "restore", u.ID); code != ExitConflict || !strings.Contains(out, "not in the trash") {
		t.Fatalf("restoring twice: exit %d\n%s", code, out)
	}
	st, _ = storeOf(t, w.db)
	defer st.Close()
	got, _ := st.User(t.Context(), acc.ID, u.ID)
	evs, _ := st.Events(t.Context(), acc.ID, 0, 0)
	if got.State != directory.StateActive || len(evs) == 0 || evs[len(evs)-1].Type != directory.EventUserRestored {
		t.Fatalf("restored user %s, last event %+v", got.State, evs)
	}
}
