package cli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/factory"
)

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:8080/link/(dsl_[A-Za-z0-9_-]+)`)

// TestAdminCommands: the first owner's setup link, console users created
// with and without a password, wrong input refused, the last owner kept.
func TestAdminCommands(t *testing.T) {
	t.Setenv("DIRSYNC_MASTER_KEY", "")
	t.Setenv("DIRSYNC_PUBLIC_URL", "")
	db := filepath.Join(t.TempDir(), "a.db")

	out, errOut, code := runCLI(t, db, "", "admin", "link")
	setup := linkRE.FindStringSubmatch(out)
	if code != 0 || setup == nil || !strings.Contains(out, "creates the account's first owner") {
		t.Fatalf("admin link on a new account: %d %q %q", code, out, errOut)
	}

	out, errOut, code = runCLI(t, db, "a long enough passphrase\n", "admin", "create", "ada@example.com", "--role", "owner", "--password-file", "-")
	if code != 0 || !strings.Contains(out, "Created console user ada@example.com (owner)") || linkRE.MatchString(out) {
		t.Fatalf("admin create with a password: %d %q %q", code, out, errOut)
	}
	out, errOut, code = runCLI(t, db, "", "admin", "create", "bob@example.com", "--role", "read-only")
	bob := linkRE.FindStringSubmatch(out)
	if code != 0 || bob == nil || !strings.Contains(out, "signs in bob@example.com") {
		t.Fatalf("admin create without a password: %d %q %q", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		code int // 2 bad input, 6 a conflict with the stored state
	}{
		{[]string{"admin", "create", "not-an-address", "--role", "owner"}, 2},
		{[]string{"admin", "create", "carol@example.com", "--role", "wizard"}, 2},
		{[]string{"admin", "link", "nobody@example.com"}, 2},
		{[]string{"admin", "create", "ada@example.com", "--role", "owner"}, 6},
		{[]string{"admin", "role", "ada@example.com", "read_only"}, 6},
		{[]string{"admin", "remove", "ada@example.com"}, 6},
	} {
		if out, errOut, code := runCLI(t, db, "", c.args...); code != c.code || errOut == "" {
			t.Errorf("%v: exit %d, %q %q; want %d and a message", c.args, code, out, errOut, c.code)
		}
	}

	out, _, code = runCLI(t, db, "", "admin", "list", "--json")
	var users []struct {
		Email, Role string
		HasPassword bool
	}
	if err := json.Unmarshal([]byte(out), &users); code != 0 || err != nil || len(users) != 2 {
		t.Fatalf("admin list --json: %d %v %s", code, err, out)
	}
	for _, u := range users {
		want := map[string]string{"ada@example.com": "owner", "bob@example.com": "read_only"}[u.Email]
		if u.Role != want || u.HasPassword != (u.Email == "ada@example.com") {
			t.Errorf("stored console user %+v", u)
		}
	}

	// The printed links are the stored ones: bob's signs bob in; the
	// setup link is refused now that the account has users.
	p, err := factory.Open(t.Context(), factory.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	info, err := p.Manager.PeekSignInLink(t.Context(), bob[1])
	if err != nil || info.Email != "bob@example.com" || info.Setup {
		t.Fatalf("bob's link: %+v %v", info, err)
	}
	if _, err := p.Manager.RedeemSignInLink(t.Context(), setup[1], nil, "test"); err == nil {
		t.Fatal("the setup link still works after users were created")
	}
}
