package console_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/sambatest"
)

// An administrator adds an Active Directory source in the wizard against a
// real Samba DC (its CA uploaded), sees the connection test pass, browses
// the OU tree live, includes one OU, and syncs only that OU's users.
func TestLDAPWizardAndOUTree(t *testing.T) {
	dc := sambatest.Start(t)
	a := dc.Admin(t)
	password := "Svc!" + strings.ReplaceAll(t.Name(), "/", "") + "aA9x"
	svc := a.AddUser("CN=Users,"+dc.BaseDN, sambatest.User{SAMAccountName: "svc-console", UPN: "svc-console@" + sambatest.DNSDomain, Password: password})
	a.AddMembers("CN=Domain Admins,CN=Users,"+dc.BaseDN, svc)
	root := a.AddOU(dc.BaseDN, "ConsoleTree")
	staff := a.AddOU(root, "Staff")
	other := a.AddOU(root, "Other")
	a.AddOU(staff, "Interns")
	a.AddUser(staff, sambatest.User{SAMAccountName: "t-ann", UPN: "t-ann@corp.example.com", Mail: "ann@corp.example.com", DisplayName: "Ann"})
	a.AddUser(other, sambatest.User{SAMAccountName: "t-otto", UPN: "t-otto@corp.example.com", DisplayName: "Otto"})

	w := newWorld(t)
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/sources/new")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#ldap_ca_file"), []string{dc.CAFile}))
	b.submit(`form[action="/sources/new/ldap"]`, map[string]string{"#ldap_name": "corp", "#urls": dc.URL, "#base_dn": root,
		"#bind_dn": svc, "#bind_password": password})
	if msg := b.text("#test-ok"); !strings.Contains(msg, "ready to sync") {
		t.Fatalf("the new LDAP source's test: %s", b.text("main"))
	}
	b.do(chromedp.Click(chromedp.CSS(`a[href="/sources/corp/ous"]`)), chromedp.WaitReady(chromedp.CSS("#ou-level")))
	b.audit("ou-tree")
	names := eval[[]string](b, `[...document.querySelectorAll("table.ous tbody th a")].map(e => e.textContent)`)
	if !slices.Equal(names, []string{"Other", "Staff"}) && !slices.Equal(names, []string{"Staff", "Other"}) {
		t.Fatalf("the tree's first level lists %v", names)
	}
	b.do(chromedp.Click(chromedp.CSS(`input[name="include"][value="` + staff + `"]`)))
	b.submit(`form[action="/sources/corp/ous"]`, nil)
	if cfg := ldapConfig(t, w); !slices.Equal(cfg.IncludeOUs, []string{staff}) {
		t.Fatalf("stored include_ous %v", cfg.IncludeOUs)
	}
	// One level down, the choice made above is kept; Interns is excluded.
	b.open("/sources/corp/ous?dn=" + staff)
	if b.text("#ou-level") != staff || !strings.Contains(b.text("table.ous"), "Interns") {
		t.Fatalf("the Staff level shows %s", b.text("main"))
	}
	b.do(chromedp.Click(chromedp.CSS(`input[name="exclude"]`)))
	b.submit(`form[action="/sources/corp/ous"]`, nil)
	if cfg := ldapConfig(t, w); !slices.Equal(cfg.IncludeOUs, []string{staff}) || len(cfg.ExcludeOUs) != 1 || !strings.HasPrefix(cfg.ExcludeOUs[0], "OU=Interns,") {
		t.Fatalf("stored OU filter %v / %v", cfg.IncludeOUs, cfg.ExcludeOUs)
	}

	b.open("/sources/corp")
	b.submit(`form[action="/sources/corp/sync"]`, nil)
	b.waitRunEnded()
	if got := b.text("#outcome"); got != "succeeded" {
		t.Fatalf("the LDAP sync: %s", b.text("main"))
	}
	users, err := w.m().Users(t.Context(), w.op, manage.UserQuery{Source: "corp"})
	if err != nil || len(users.Items) != 1 || users.Items[0].DisplayName != "Ann" {
		t.Fatalf("the OU filter synced %+v (%v)", users.Items, err)
	}
}

type ouConfig struct {
	IncludeOUs []string `json:"include_ous"`
	ExcludeOUs []string `json:"exclude_ous"`
}

func ldapConfig(t *testing.T, w *world) ouConfig {
	t.Helper()
	v, err := w.m().Source(t.Context(), w.op, "corp")
	if err != nil {
		t.Fatal(err)
	}
	var c ouConfig
	if err := json.Unmarshal(v.Config, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
