package manage_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

func TestAddSourceChecksItsInput(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	name, secret := "s", []byte(w.srv.Credentials().ClientSecret)
	withConfig := func(change func(map[string]any)) json.RawMessage {
		var c map[string]any
		json.Unmarshal(w.config(), &c)
		change(c)
		raw, _ := json.Marshal(c)
		return raw
	}
	empty := ""
	for _, c := range []struct {
		in           manage.SourceInput
		field, words string
	}{
		{manage.SourceInput{Kind: directory.KindEntra, Config: w.config(), Secret: secret}, "name", "name is required"},
		{manage.SourceInput{Name: &empty, Kind: directory.KindEntra, Config: w.config(), Secret: secret}, "name", "empty"},
		{manage.SourceInput{Name: &name, Config: w.config(), Secret: secret}, "kind", "kind is required: entra or ldap"},
		{manage.SourceInput{Name: &name, Kind: "okta", Config: w.config(), Secret: secret}, "kind", `"okta" is unknown`},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Secret: secret}, "settings", "required"},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: w.config()}, "secret", "required"},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: withConfig(func(c map[string]any) { c["tenant"] = "common" }), Secret: secret}, "settings", "background service"},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: withConfig(func(c map[string]any) { c["bogus"] = 1 }), Secret: secret}, "settings", "bogus"},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: withConfig(func(c map[string]any) { c["secret_expires"] = "2027-06-31" }), Secret: secret},
			"settings.secret_expires", "2027-06-31 is not a date (June has 30 days)"},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: withConfig(func(c map[string]any) { c["secret_expires"] = "2027-13-01" }), Secret: secret},
			"settings.secret_expires", "there is no month 13"},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: withConfig(func(c map[string]any) { c["secret_expires"] = "2026-03-09" }), Secret: secret},
			"settings.secret_expires", "2026-03-09 is in the past"},
		{manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: withConfig(func(c map[string]any) { c["secret_expires"] = "30/06/2027" }), Secret: secret},
			"settings.secret_expires", "want YYYY-MM-DD"},
	} {
		_, err := w.m.AddSource(ctx, w.owner, c.in)
		e := wantKind(t, err, manage.Invalid, c.words)
		if e.Field != c.field || !strings.Contains(e.Message, c.words) {
			t.Errorf("field %q, message %q; want %q, %q", e.Field, e.Message, c.field, c.words)
		}
	}
	if srcs, _ := w.m.Sources(ctx, w.owner); len(srcs) != 0 {
		t.Fatalf("refused input stored %d sources", len(srcs))
	}
	// Today is fine; a name is unique in the account.
	ok := manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: withConfig(func(c map[string]any) { c["secret_expires"] = "2026-03-10" }), Secret: secret}
	if _, err := w.m.AddSource(ctx, w.owner, ok); err != nil {
		t.Fatal(err)
	}
	upper := "S"
	ok.Name = &upper
	_, err := w.m.AddSource(ctx, w.owner, ok)
	if e := wantKind(t, err, manage.Conflict, "same name"); e.Code != manage.CodeAlreadyExists {
		t.Fatalf("code %q", e.Code)
	}
}

// TestNewSourcesSyncDaily: a source gets a daily schedule (spread over the
// day by its id) whoever adds it and whatever its kind, with its next runs.
func TestNewSourcesSyncDaily(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	entraSrc := w.addSource(w.owner, "cloud")
	name := "corp"
	cfg := `{"urls":["ldaps://127.0.0.1:1"],"base_dn":"DC=corp,DC=example,DC=com","bind_dn":"svc@corp.example.com"}`
	ldapSrc, err := w.m.AddSource(ctx, w.owner, manage.SourceInput{Name: &name, Kind: directory.KindLDAP, Config: json.RawMessage(cfg), Secret: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []manage.SourceView{entraSrc, ldapSrc} {
		if want := schedule.DefaultDaily(v.ID, ""); v.Schedule.String() != want.String() {
			t.Errorf("%s: schedule %s, want %s", v.Name, v.Schedule, want)
		}
		if len(v.NextRuns) != 5 || !v.NextRuns[0].After(epoch) || v.NextRuns[1].Sub(v.NextRuns[0]) != 24*time.Hour {
			t.Errorf("%s: next runs %v", v.Name, v.NextRuns)
		}
		if v.Status.State != manage.StateNeverRun {
			t.Errorf("%s: status %+v", v.Name, v.Status)
		}
	}
	// Turned off: no next run, and the status says so.
	off, err := w.m.SetEnabled(ctx, w.owner, "corp", false)
	if err != nil || len(off.NextRuns) != 0 || off.Status.State != manage.StateTurnedOff {
		t.Fatalf("turned off: %+v %v", off.Status, err)
	}
}

// TestChangingWhereTheSecretGoesNeedsTheSecret: an administrator cannot
// point a source at a host of theirs and have dirsync send it the stored
// secret (issue 10, point 3).
func TestChangingWhereTheSecretGoesNeedsTheSecret(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	src := w.addSource(w.owner, "s")
	var hits atomic.Int32
	trap := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rw.WriteHeader(http.StatusUnauthorized)
	}))
	defer trap.Close()
	var cfg map[string]any
	json.Unmarshal(w.config(), &cfg)
	cfg["authority_url"], cfg["graph_url"] = trap.URL, trap.URL
	moved, _ := json.Marshal(cfg)
	_, err := w.m.UpdateSource(ctx, w.owner, src.ID, manage.SourceInput{Config: moved})
	if e := wantKind(t, err, manage.Invalid, "moving the endpoint without the secret"); e.Field != "secret" || !strings.Contains(e.Message, "authority_url") {
		t.Fatalf("%+v", e)
	}
	if _, err := w.m.TestSource(ctx, w.owner, src.ID); err != nil {
		t.Fatalf("the source no longer works: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the changed endpoint was reached %d times", hits.Load())
	}
	// Other settings change without the secret; the endpoint with it.
	cfg = map[string]any{}
	json.Unmarshal(w.config(), &cfg)
	cfg["secret_expires"] = "2027-06-30"
	later, _ := json.Marshal(cfg)
	if v, err := w.m.UpdateSource(ctx, w.owner, src.ID, manage.SourceInput{Config: later}); err != nil || v.Status.SecretExpiresInDays == nil {
		t.Fatalf("changing the expiry: %+v %v", v.Status, err)
	}
	if _, err := w.m.UpdateSource(ctx, w.owner, src.ID, manage.SourceInput{Config: moved, Secret: []byte("a new secret")}); err != nil {
		t.Fatalf("moving with the secret: %v", err)
	}
}

// TestOneDomainOneSource: a tenant synced by a source cannot be added again,
// in the account or another; and two sources added before the first sync
// cannot both sync it.
func TestOneDomainOneSource(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	w.addSource(w.owner, "first")
	if _, err := w.m.CreateAccount(ctx, manage.DeploymentOperator(), "other"); err != nil {
		t.Fatal(err)
	}
	other, err := w.m.Operator(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	early := w.addSource(other, "early") // before anyone synced the tenant
	if _, err := w.m.SyncNow(ctx, w.owner, "first", manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	name := "again"
	c := w.srv.Credentials()
	raw, _ := json.Marshal(map[string]any{"tenant": strings.ToUpper(c.TenantID), "client_id": c.ClientID, "cloud": "custom",
		"authority_url": c.AuthorityURL, "graph_url": c.GraphURL, "auth_method": "secret", "ca_pem": string(w.srv.CAPEM())})
	_, err = w.m.AddSource(ctx, w.owner, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: raw, Secret: []byte(c.ClientSecret)})
	if e := wantKind(t, err, manage.Conflict, "same tenant, same account"); e.Code != manage.CodeDomainClaimed || !strings.Contains(e.Message, "two sources of one account") {
		t.Fatalf("%+v", e)
	}
	_, err = w.m.AddSource(ctx, other, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: raw, Secret: []byte(c.ClientSecret)})
	if e := wantKind(t, err, manage.Conflict, "same tenant, other account"); !strings.Contains(e.Message, "another account") {
		t.Fatalf("%+v", e)
	}
	run, err := w.m.SyncNow(ctx, other, early.ID, manage.SyncRequest{})
	if e := wantKind(t, err, manage.Conflict, "the second early source's sync"); e.Code != manage.CodeDomainClaimed || run.ID != "" {
		t.Fatalf("%+v run %+v", e, run)
	}
	if page, _ := w.m.Users(ctx, other, manage.UserQuery{}); len(page.Items) != 0 {
		t.Fatalf("the other account got %d users", len(page.Items))
	}
}
