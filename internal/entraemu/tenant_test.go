package entraemu

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestWriteFiles(t *testing.T) {
	tn, s := start(t, Options{Users: 3, Seed: 60})
	dir := t.TempDir()
	ca, creds := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "creds.json")
	if err := tn.WriteFiles(s, ca, creds); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ca, creds} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode())
		}
	}
	b, _ := os.ReadFile(creds)
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	want := s.Credentials()
	if !reflect.DeepEqual(c, want) || c.CAFile != ca || c.TenantID != tn.ID() || c.ClientSecret == "" || c.AuthorityURL != s.URL() || c.GraphURL != s.URL() {
		t.Errorf("credentials file = %+v, want %+v", c, want)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	for _, k := range []string{"tenant_id", "domain", "client_id", "client_secret", "roles", "authority_url", "graph_url", "ca_file", "write_app"} {
		if raw[k] == nil {
			t.Errorf("credentials JSON lacks %s", k)
		}
	}
	// The CA file alone lets a client verify the server, by IP and by name.
	pem, _ := os.ReadFile(ca)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	_, port, _ := netSplit(s.URL())
	for _, base := range []string{s.URL(), "https://localhost:" + port} {
		resp, err := hc.Get(base + "/" + tn.ID() + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", base, resp.StatusCode)
		}
	}
	// Without the CA, the TLS handshake fails: HTTPS is real.
	if resp, err := http.Get(s.URL() + "/" + tn.ID() + "/v2.0/.well-known/openid-configuration"); err == nil {
		resp.Body.Close()
		t.Error("an untrusted client connected")
	}
	if resp, err := http.Get("http" + s.URL()[5:] + "/v1.0/users"); err == nil {
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP answered %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
}

func netSplit(u string) (string, string, error) {
	hostport := u[len("https://"):]
	for i := len(hostport) - 1; i >= 0; i-- {
		if hostport[i] == ':' {
			return hostport[:i], hostport[i+1:], nil
		}
	}
	return hostport, "", errors.New("no port")
}

func TestDeletedItemsRetention(t *testing.T) {
	clock := newFakeClock()
	tn, s := start(t, Options{Users: 20, Groups: 3, Seed: 61, Clock: clock, TokenLifetime: 365 * 24 * time.Hour})
	cl := newClient(t, s)
	rd := walk(t, cl, "/v1.0/users/delta?$select=displayName", nil)
	u := tn.Users()[0]
	tn.DeleteUser(u.ID)
	rd = walk(t, cl, rd.deltaLink, nil)
	if len(rd.entries) != 1 || rd.entries[0]["@removed"].(map[string]any)["reason"] != "changed" {
		t.Fatalf("soft delete = %v", rd.entries)
	}
	// A client that syncs every 6 days keeps its token valid.
	for day := 6; day <= 24; day += 6 {
		clock.Advance(6 * 24 * time.Hour)
		rd = walk(t, cl, rd.deltaLink, nil)
	}
	clock.Advance(5 * 24 * time.Hour)
	cl.mustGet("/v1.0/organization")
	if len(tn.DeletedUsers()) != 1 {
		t.Fatal("purged before 30 days")
	}
	rd = walk(t, cl, rd.deltaLink, nil)
	clock.Advance(2 * 24 * time.Hour)
	cl.mustGet("/v1.0/organization") // any request runs the retention
	if len(tn.DeletedUsers()) != 0 {
		t.Fatal("still in deleted items after 31 days")
	}
	if _, err := tn.RestoreUser(u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("restore after retention: %v", err)
	}
	rd = walk(t, cl, rd.deltaLink, nil)
	if len(rd.entries) != 1 || rd.entries[0]["@removed"].(map[string]any)["reason"] != "deleted" {
		t.Errorf("purge after retention = %v", rd.entries)
	}
}

func TestChangeLogCompaction(t *testing.T) {
	clock := newFakeClock()
	tn, s := start(t, Options{Users: 20, Seed: 62, Clock: clock, TokenLifetime: 365 * 24 * time.Hour})
	users := tn.Users()
	for i := 0; i < 5; i++ {
		tn.UpdateUser(users[i].ID, func(u *User) { u.JobTitle = "old" })
	}
	clock.Advance(8 * 24 * time.Hour)
	cl := newClient(t, s)
	rd := walk(t, cl, "/v1.0/users/delta?$select=jobTitle", nil)
	for i := 5; i < 8; i++ {
		tn.UpdateUser(users[i].ID, func(u *User) { u.JobTitle = "new" })
	}
	_, seq := tn.LogBounds()
	tn.CompactLog(clock.Now().Add(-7 * 24 * time.Hour))
	base, after := tn.LogBounds()
	if base != 5 || after-base != 3 || after != seq {
		t.Fatalf("after compaction: base %d, %d kept, seq %d", base, after-base, seq)
	}
	// A token after the compacted part still works.
	if got := walk(t, cl, rd.deltaLink, nil).entries; len(got) != 3 {
		t.Errorf("round after compaction = %v", got)
	}
	// One before it answers 410 (as after the hard cap drops entries).
	tn.CompactLog(clock.Now().Add(time.Hour))
	if r := cl.get(rd.deltaLink); r.status != 410 || r.errorCode() != "syncStateNotFound" {
		t.Errorf("token before the log: %d %s", r.status, r.raw)
	}
}

func TestAdminErrors(t *testing.T) {
	tn, _ := start(t, Options{Users: 5, Groups: 2, Seed: 63})
	missing := "00000000-0000-4000-8000-000000000000"
	if err := tn.DeleteUser(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
	if err := tn.AddMember(tn.Groups()[0].ID, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("add missing member: %v", err)
	}
	u := tn.Users()[0]
	if _, err := tn.CreateUser(User{UserPrincipalName: u.UserPrincipalName, DisplayName: "Dup"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate UPN: %v", err)
	}
	// A UPN freed by a deletion can be taken; the restore then conflicts.
	tn.DeleteUser(u.ID)
	if _, err := tn.CreateUser(User{UserPrincipalName: u.UserPrincipalName, DisplayName: "Successor", AccountEnabled: true}); err != nil {
		t.Fatalf("reuse of a deleted user's UPN: %v", err)
	}
	if _, err := tn.RestoreUser(u.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("restore over a taken UPN: %v", err)
	}
	g := tn.Groups()[0]
	if err := tn.AddMember(g.ID, g.ID); err == nil {
		t.Error("a group became its own member")
	}
	if err := tn.AddApp(App{ClientID: "not-a-guid", Secret: "x"}); err == nil {
		t.Error("AddApp accepted a bad client id")
	}
	if _, err := New(Options{TenantID: "nope"}); err == nil {
		t.Error("New accepted a bad tenant id")
	}
}

func TestPatchByGraphNames(t *testing.T) {
	tn, _ := start(t, Options{Users: 5, Groups: 2, Seed: 64})
	u := tn.Users()[0]
	if err := tn.PatchUser(u.ID, map[string]any{"jobTitle": "Counsel", "mobilePhone": nil, "accountEnabled": false}); err != nil {
		t.Fatal(err)
	}
	got, _ := tn.User(u.ID)
	if got.JobTitle != "Counsel" || got.MobilePhone != "" || got.AccountEnabled {
		t.Errorf("patched = %+v", got)
	}
	if err := tn.PatchUser(u.ID, map[string]any{"proxyAddresses": []string{"SMTP:a@b"}}); err == nil {
		t.Error("read-only property patched")
	}
	if err := tn.PatchUser(u.ID, map[string]any{"accountEnabled": "yes"}); err == nil {
		t.Error("a string accepted for a boolean")
	}
	g := tn.Groups()[0]
	if err := tn.PatchGroup(g.ID, map[string]any{"description": "new", "displayName": "Renamed"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := tn.Group(g.ID); got.Description != "new" || got.DisplayName != "Renamed" {
		t.Errorf("patched group = %+v", got)
	}
}

// Readers and writers at once: run with -race.
func TestConcurrentUse(t *testing.T) {
	tn, s := start(t, Options{Users: 300, Groups: 30, Seed: 65, DeltaUserPageSize: 40, DeltaMemberPageSize: 50})
	cl := newClient(t, s)
	done := make(chan struct{})
	errs := make(chan error, 8)
	var n int
	go func() {
		defer close(done)
		rng := newRand(65)
		for i := 0; i < 300; i++ {
			randomChange(t, tn, rng, &n)
		}
	}()
	reader := func(path string) {
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			next := path
			for next != "" {
				r := cl.get(next)
				if r.status != 200 {
					errs <- errors.New(next + ": " + string(r.raw))
					return
				}
				next = r.str("@odata.nextLink")
			}
		}
	}
	go reader("/v1.0/users?$top=50")
	go reader("/v1.0/users/delta?$select=displayName")
	go reader("/v1.0/groups/delta?$select=displayName,members")
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
