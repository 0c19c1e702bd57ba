package sambatest

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestTwoDCsAtOnce starts two domain controllers concurrently, as two test
// packages do, and checks that each got its own address, answers LDAPS with
// a certificate that verifies against its CA, and holds what was added.
func TestTwoDCsAtOnce(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("%v (CI installs it: %s)", err, InstallHint)
	}
	var dcs [2]*DC
	var errs [2]error
	var wg sync.WaitGroup
	for i := range dcs {
		wg.Go(func() { dcs[i], errs[i] = New(context.Background(), Options{Dir: t.TempDir(), Logf: t.Logf}) })
	}
	wg.Wait()
	for i, dc := range dcs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { dc.Close() })
	}
	if dcs[0].Addr == dcs[1].Addr {
		t.Fatalf("both DCs on %s", dcs[0].Addr)
	}
	for _, dc := range dcs {
		if !strings.HasPrefix(dc.Addr, "127.0.0.") {
			t.Fatalf("DC on non-loopback address %s", dc.Addr)
		}
		a := dc.Admin(t)
		ou := a.AddOU(dc.BaseDN, "Harness")
		dn := a.AddUser(ou, User{SAMAccountName: "h.user", UPN: "h.user@" + DNSDomain, Password: "Harness-Pa55!" + dc.Addr})
		a.SetEnabled(dn, false)
		if got := a.Get(dn, "userAccountControl"); got != "514" {
			t.Errorf("userAccountControl after disable = %s, want 514", got)
		}
		// OpenLDAP's client verifies the certificate against the CA file
		// on its own: a second opinion on the harness's TLS set-up.
		if _, err := exec.LookPath("ldapsearch"); err == nil {
			cmd := exec.Command("ldapsearch", "-LLL", "-x", "-H", dc.URL, "-D", dc.AdminDN, "-y", "/dev/stdin",
				"-b", dn, "-s", "base", "sAMAccountName")
			cmd.Env = append(cmd.Environ(), "LDAPTLS_CACERT="+dc.CAFile, "LDAPTLS_REQCERT=demand")
			cmd.Stdin = strings.NewReader(dc.AdminPassword)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "sAMAccountName: h.user") {
				t.Errorf("ldapsearch with the DC's CA: %v\n%s", err, out)
			}
		}
	}
}
