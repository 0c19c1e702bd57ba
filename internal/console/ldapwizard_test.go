package console_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/connector/ldap"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/sambatest"
)

// TestLDAPWizardSettings: the LDAP wizard takes what the CLI's source add
// ldap takes (flavor, user and group filters, UPN suffix rewrites, the
// labs-only certificate switch) and refuses what it refuses with the same
// messages, storing nothing; a source added without the DC's CA fails
// Test connection with the untrusted-certificate message the CLI prints,
// and added with it, passes, its settings stored as given.
func TestLDAPWizardSettings(t *testing.T) {
	dc := sambatest.Start(t)
	a := dc.Admin(t)
	password := "Svc!" + strings.ReplaceAll(t.Name(), "/", "") + "aA9x"
	svc := a.AddUser("CN=Users,"+dc.BaseDN, sambatest.User{SAMAccountName: "svc-wizard", UPN: "svc-wizard@" + sambatest.DNSDomain, Password: password})
	a.AddMembers("CN=Domain Admins,CN=Users,"+dc.BaseDN, svc)

	w := newWorld(t)
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	fields := func(name string) map[string]string {
		return map[string]string{"#ldap_name": name, "#urls": dc.URL, "#base_dn": dc.BaseDN, "#bind_dn": svc, "#bind_password": password}
	}
	add := func(name string, more map[string]string) {
		t.Helper()
		b.open("/sources/new")
		b.do(chromedp.Click(chromedp.CSS(`form[action="/sources/new/ldap"] details summary`)))
		f := fields(name)
		maps.Copy(f, more)
		b.submit(`form[action="/sources/new/ldap"]`, f)
	}
	// Refused, with manage's messages (the CLI's), and nothing stored.
	_, mapErr := manage.ParseUPNSuffixMap([]string{"corp.local"})
	for what, more := range map[string]map[string]string{
		manage.AsError(mapErr).Message: {"#upn_suffix_map": "corp.local"},
		"user filter":                  {"#user_filter": "(department=Sales"},
		"UPN suffix mapping":           {"#upn_suffix_map": "corp.local=bad domain"},
	} {
		add("refused", more)
		if msg := b.text("#ldap-error"); !strings.Contains(msg, what) {
			t.Errorf("the wizard with %v says %q, want %q", more, msg, what)
		}
		if _, err := w.m().Source(t.Context(), w.op, "refused"); manage.KindOf(err) != manage.NotFound {
			t.Fatalf("a refused wizard stored its source (%v)", err)
		}
	}
	// Without the DC's CA: the certificate is not trusted, as the CLI says.
	add("noca", nil)
	problem := b.text("#test-problem")
	// The test fails (an error too), with the message the CLI prints.
	want, _ := w.m().TestSource(t.Context(), w.op, "noca")
	if want.Problem == nil || problem != want.Problem.Message || !strings.Contains(problem, "is not trusted") {
		t.Fatalf("Test connection without the CA says %q; manage says %+v", problem, want.Problem)
	}
	b.audit("source-untrusted-certificate")

	// With it, and every setting.
	b.open("/sources/new")
	b.do(chromedp.Click(chromedp.CSS(`form[action="/sources/new/ldap"] details summary`)),
		chromedp.SetUploadFiles(chromedp.CSS("#ldap_ca_file"), []string{dc.CAFile}),
		chromedp.SetValue(chromedp.CSS("#flavor"), "ad"))
	b.audit("source-new-ldap-settings")
	f := fields("corp")
	maps.Copy(f, map[string]string{"#user_filter": "(sAMAccountName=svc-*)", "#group_filter": "(cn=Domain*)",
		"#upn_suffix_map": "corp.local=corp.example.com\n@old.example=new.example\n"})
	b.submit(`form[action="/sources/new/ldap"]`, f)
	if b.count("#test-ok") != 1 {
		t.Fatalf("the new LDAP source's test: %s", eval[string](b, "document.querySelector('main').innerText"))
	}
	v, err := w.m().Source(t.Context(), w.op, "corp")
	if err != nil {
		t.Fatal(err)
	}
	var cfg ldap.Config
	if err := json.Unmarshal(v.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	wantMap := map[string]string{"corp.local": "corp.example.com", "old.example": "new.example"}
	if cfg.Flavor != "ad" || cfg.UserFilter != "(sAMAccountName=svc-*)" || cfg.GroupFilter != "(cn=Domain*)" ||
		!maps.Equal(cfg.UPNSuffixMap, wantMap) || cfg.InsecureSkipVerify || cfg.CAPEM == "" {
		t.Fatalf("stored settings %+v", cfg)
	}
}
