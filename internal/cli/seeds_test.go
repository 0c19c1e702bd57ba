package cli

// Scenario tests: each walks the documented flow of one seed system
// (../shared/seeds) with dirsync's settings, through the command line, against
// an emulated tenant, and checks the resulting directory.

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/entraemu"
)

func (w *cliWorld) jsonOf(v any, args ...string) {
	w.t.Helper()
	if err := json.Unmarshal([]byte(w.ok("", append(args, "--json")...)), v); err != nil {
		w.t.Fatalf("dirsync %v --json: %v", args, err)
	}
}

type seedUser struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Email    string   `json:"email"`
	Enabled  bool     `json:"enabled"`
	State    string   `json:"state"`
	Tags     []string `json:"tags"`
	Mobile   string   `json:"mobile_phone"`
	Phones   []string `json:"business_phones"`
	Licenses []string `json:"licenses"`
	Sources  []struct {
		Source string `json:"source"`
	} `json:"sources"`
}

// Sophos Central (seed 000): existing users meet their Azure AD match instead
// of being duplicated; users and emails are unique in an account, so a second
// source claiming one is quarantined; users without email can be required.
func TestSeedSophosCentral(t *testing.T) {
	w := newCLIWorld(t, 60, 4)
	tu := w.tenant.Users()
	// Users the account already had before turning sync on.
	var existing []string
	for _, u := range tu[:3] {
		if u.Mail == "" {
			continue
		}
		// Created by hand in the application: matched by email, not duplicated.
		w.addLocalUser(strings.ToUpper(u.Mail), u.Mail)
		existing = append(existing, u.Mail)
	}
	w.ok("", "source", "set", "t", "--require-email")
	out := w.ok("", "sync", "t")
	var users []seedUser
	w.jsonOf(&users, "users", "list")
	withMail := 0
	for _, u := range tu {
		if u.Mail != "" {
			withMail++
		}
	}
	if len(users) != withMail {
		t.Fatalf("%d users, want the %d with an email (users without one skipped)\n%s", len(users), withMail, out)
	}
	if !strings.Contains(out, "no email address") && withMail != len(tu) {
		t.Fatalf("the report does not say why users were skipped:\n%s", out)
	}
	for _, mail := range existing {
		n := 0
		for _, u := range users {
			if strings.EqualFold(u.Email, mail) {
				n++
				if len(u.Sources) != 1 {
					t.Errorf("existing user %s not linked to the source: %+v", mail, u)
				}
			}
		}
		if n != 1 {
			t.Errorf("existing user %s appears %d times", mail, n)
		}
	}
}

func (w *cliWorld) addLocalUser(username, email string) {
	w.t.Helper()
	// A local user, created through the store as the application would.
	st, acc := storeOf(w.t, w.db)
	defer st.Close()
	if err := createLocalUser(w.t.Context(), st, acc.ID, username, email); err != nil {
		w.t.Fatal(err)
	}
}

// Security Center (seed 001): a one-time import of licensed users only, as
// recipients tagged for a campaign; existing recipients are not updated.
func TestSeedSecurityCenter(t *testing.T) {
	w := newCLIWorld(t, 80, 4)
	w.ok("", "source", "set", "t", "--require-license", "--tag", "phishing-2026", "--update-existing=false")
	out := w.ok("", "import", "t")
	if !strings.Contains(out, "no active license") {
		t.Fatalf("the import does not report unlicensed users:\n%s", out)
	}
	var users []seedUser
	w.jsonOf(&users, "users", "list")
	licensed := 0
	for _, u := range w.tenant.Users() {
		if len(u.AssignedLicenses) > 0 {
			licensed++
		}
	}
	if len(users) != licensed || licensed == len(w.tenant.Users()) {
		t.Fatalf("%d users imported; %d of %d are licensed", len(users), licensed, len(w.tenant.Users()))
	}
	for _, u := range users {
		if len(u.Licenses) == 0 || len(u.Tags) != 1 || u.Tags[0] != "phishing-2026" {
			t.Fatalf("imported user %+v", u)
		}
	}
	// A second import with another tag, appended: existing recipients keep
	// their data (update existing is off), new ones come in.
	first := users[0]
	w.tenant.UpdateUser(w.tenant.Users()[0].ID, func(x *entraemu.User) { x.Department = "Changed after import" })
	w.ok("", "source", "set", "t", "--tag", "phishing-2027", "--tag-mode", "replace")
	w.ok("", "import", "t")
	var again seedUser
	w.jsonOf(&again, "users", "show", first.ID)
	if again.Tags[0] != "phishing-2026" {
		t.Fatalf("update-existing off changed an existing recipient's tags: %v", again.Tags)
	}
}

// Duo (seed 002): selected groups with nested members flattened, usernames
// normalized to the UPN prefix, phones imported E.164 with invalid ones
// reported, disabled at the source = disabled, synced users read-only,
// single-user sync, the trash.
func TestSeedDuo(t *testing.T) {
	w := newCLIWorld(t, 120, 8)
	var found struct {
		Results []struct {
			ID   string `json:"external_id"`
			Name string `json:"name"`
		} `json:"results"`
	}
	w.jsonOf(&found, "source", "groups", "t", "--search", "All")
	if len(found.Results) == 0 {
		t.Fatal("the group picker found nothing for \"All\"")
	}
	sel := found.Results[0]
	w.ok("", "source", "set", "t", "--group", sel.ID, "--groups-mode", "flatten", "--normalize-usernames", "--import-phones", "--phone-region", "US")
	out := w.ok("", "sync", "t")
	var groups []map[string]any
	w.jsonOf(&groups, "groups", "list")
	if len(groups) != 1 || groups[0]["name"] != sel.Name {
		t.Fatalf("groups after selecting %s: %v", sel.Name, groups)
	}
	var users []seedUser
	w.jsonOf(&users, "users", "list")
	want := 0
	for _, m := range w.tenant.TransitiveMembers(sel.ID) {
		if m.Kind == "user" {
			want++
		}
	}
	if len(users) == 0 || len(users) != want {
		t.Fatalf("%d users, want the %d reached through %s\n%s", len(users), want, sel.Name, out)
	}
	e164 := regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	for _, u := range users {
		if strings.Contains(u.Username, "@") {
			t.Fatalf("username %q not normalized", u.Username)
		}
		for _, p := range append(u.Phones, u.Mobile) {
			if p != "" && !e164.MatchString(p) {
				t.Fatalf("phone %q of %s is not E.164", p, u.Username)
			}
		}
	}
	// Direct members of the selected group are all its users, nesting flattened.
	var direct []map[string]any
	w.jsonOf(&direct, "groups", "members", sel.Name, "--direct")
	if len(direct) != want {
		t.Fatalf("%d direct members after flattening, want %d", len(direct), want)
	}
	// Disabled at the source → disabled here, and not re-enabled locally.
	var victim entraemu.User
	for _, m := range w.tenant.TransitiveMembers(sel.ID) {
		if u, ok := w.tenant.User(m.ID); ok && m.Kind == "user" && u.AccountEnabled {
			victim = u
			break
		}
	}
	w.tenant.UpdateUser(victim.ID, func(x *entraemu.User) { x.AccountEnabled = false })
	w.ok("", "sync", "t", "--user", victim.UserPrincipalName)
	var u seedUser
	w.jsonOf(&u, "users", "show", normalizeForTest(victim.UserPrincipalName))
	if u.Enabled || u.State != "disabled" {
		t.Fatalf("disabled at the source, %s here", u.State)
	}
	if out, code := w.run("", "users", "set", u.ID, "--enable"); code != ExitConflict || !strings.Contains(out, "managed by source t") {
		t.Fatalf("re-enabling a synced user locally: exit %d\n%s", code, out)
	}
	// Removed from the selected groups → the trash (restorable), not deleted.
	w.tenant.DeleteUser(victim.ID)
	w.ok("", "sync", "t")
	w.jsonOf(&u, "users", "show", u.ID)
	if u.State != "pending_deletion" {
		t.Fatalf("a user gone from the selected groups is %s", u.State)
	}
}

func normalizeForTest(upn string) string {
	if i := strings.Index(upn, "#EXT#"); i >= 0 {
		return upn[:i]
	}
	if i := strings.LastIndex(upn, "@"); i >= 0 {
		return upn[:i]
	}
	return upn
}

// Password Depot (seed 004): search and pick individual users and groups,
// synchronize, look at the results; "check deleted objects" decides whether
// objects deleted at the source are removed.
func TestSeedPasswordDepot(t *testing.T) {
	w := newCLIWorld(t, 50, 5)
	tu := w.tenant.Users()
	pick := tu[7]
	var found struct {
		Results []struct {
			ID string `json:"external_id"`
		} `json:"results"`
	}
	w.jsonOf(&found, "source", "users", "t", "--search", strings.Split(pick.DisplayName, " ")[0])
	picked := false
	for _, r := range found.Results {
		picked = picked || r.ID == pick.ID
	}
	if !picked {
		t.Fatalf("the user picker did not find %s", pick.DisplayName)
	}
	g := w.tenant.Groups()[1]
	w.ok("", "source", "set", "t", "--group", g.ID, "--groups-mode", "nested", "--pick-user", pick.ID, "--process-deletions=false")
	out := w.ok("", "sync", "t")
	runID := regexp.MustCompile(`\(run ([0-9a-f-]+)\)`).FindStringSubmatch(out)[1]
	if results := w.ok("", "runs", "show", runID, "--changes"); !strings.Contains(results, "created") {
		t.Fatalf("the results view lists no creation:\n%s", results)
	}
	var users []seedUser
	w.jsonOf(&users, "users", "list")
	var have bool
	for _, u := range users {
		have = have || u.Username == pick.UserPrincipalName
	}
	if !have {
		t.Fatal("the picked user was not imported")
	}
	// Deleted at the source, "check deleted objects" off: kept.
	w.tenant.DeleteUser(pick.ID)
	w.ok("", "sync", "t")
	var u seedUser
	w.jsonOf(&u, "users", "show", pick.UserPrincipalName)
	if u.State == "pending_deletion" {
		t.Fatal("with deletions not processed, a deleted user went to the trash")
	}
	// On: removed (to the trash).
	w.ok("", "source", "set", "t", "--process-deletions=true")
	w.ok("", "sync", "t")
	w.jsonOf(&u, "users", "show", pick.UserPrincipalName)
	if u.State != "pending_deletion" {
		t.Fatalf("with deletions processed, the deleted user is %s", u.State)
	}
}
