package manage_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// targetConfig is a target's settings reaching the world's tenant as the
// app with clientID.
func (w *world) targetConfig(clientID string) json.RawMessage {
	c := w.srv.Credentials()
	raw, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: clientID, Cloud: "custom", AuthMethod: entra.AuthSecret,
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(w.srv.CAPEM())})
	return raw
}

// addLDAPSource adds an LDAP source (never contacted here).
func (w *world) addLDAPSource(name string) manage.SourceView {
	w.t.Helper()
	cfg := `{"urls":["ldaps://127.0.0.1:1"],"base_dn":"DC=corp,DC=example,DC=com","bind_dn":"svc@corp.example.com"}`
	v, err := w.m.AddSource(w.t.Context(), w.owner, manage.SourceInput{Name: &name, Kind: directory.KindLDAP, Config: json.RawMessage(cfg), Secret: []byte("pw")})
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func TestTargetsAreCheckedStoredAndTested(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	creds := w.srv.Credentials()
	corp := w.addLDAPSource("corp")
	w.addSource(w.owner, "cloudsrc")
	name, staging, bad, neg := "cloud", true, "usa", -1
	writeCfg, writeSecret := w.targetConfig(creds.WriteApp.ClientID), []byte(creds.WriteApp.ClientSecret)
	for _, c := range []struct {
		in           manage.TargetInput
		field, words string
	}{
		{manage.TargetInput{Config: writeCfg, Secret: writeSecret}, "name", "name is required"},
		{manage.TargetInput{Name: &name, Kind: "okta", Config: writeCfg, Secret: writeSecret}, "kind", `"okta" is unknown`},
		{manage.TargetInput{Name: &name, Secret: writeSecret}, "settings", "required"},
		{manage.TargetInput{Name: &name, Config: writeCfg}, "secret", "required"},
		{manage.TargetInput{Name: &name, Config: json.RawMessage(`{"tenant":"common","client_id":"x"}`), Secret: writeSecret}, "settings", "background service"},
		{manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, Sources: []string{"nope"}}, "sources", `no source "nope"`},
		{manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, Sources: []string{"cloudsrc"}}, "sources", "Active Directory (ldap) sources"},
		{manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, UsageLocation: &bad}, "usage_location", "two-letter country code"},
		{manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, DeletionThreshold: &neg}, "deletion_threshold", "negative"},
		{manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, Flows: map[string]string{"proxyAddresses": "proxy_addresses"}}, "flows", "no such user attribute"},
		{manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, Flows: map[string]string{"userPrincipalName": ""}}, "flows", "cannot be turned off"},
		{manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, Flows: map[string]string{"jobTitle": "enabled"}}, "flows", "not a directory attribute this flow can take"},
	} {
		_, err := w.m.AddTarget(ctx, w.owner, c.in)
		e := wantKind(t, err, manage.Invalid, c.words)
		if e.Field != c.field || !strings.Contains(e.Message, c.words) {
			t.Errorf("field %q, message %q; want %q, %q", e.Field, e.Message, c.field, c.words)
		}
	}
	if ts, _ := w.m.Targets(ctx, w.owner); len(ts) != 0 {
		t.Fatalf("refused input stored %d targets", len(ts))
	}
	// A target may not take a source's name (dirsync sync takes either).
	taken := "corp"
	_, err := w.m.AddTarget(ctx, w.owner, manage.TargetInput{Name: &taken, Config: writeCfg, Secret: writeSecret})
	wantKind(t, err, manage.Conflict, "a source's name")

	v, err := w.m.AddTarget(ctx, w.owner, manage.TargetInput{Name: &name, Config: writeCfg, Secret: writeSecret, Sources: []string{"CORP"},
		Staging: &staging, Flows: map[string]string{"jobTitle": "department"}})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Settings.Staging || len(v.Settings.Sources) != 1 || v.Settings.Sources[0] != corp.ID || v.SourceNames[0] != "corp" ||
		v.Settings.Threshold() != 500 || !v.SecretSet || v.Secret != nil || strings.Contains(string(v.Config), creds.WriteApp.ClientSecret) {
		t.Fatalf("stored target: %+v", v)
	}
	for _, f := range v.Flows {
		if f.Attribute == "jobTitle" && f.From != "department" {
			t.Errorf("jobTitle flows from %q", f.From)
		}
	}
	// A source may not take a target's name either.
	_, err = w.m.AddSource(ctx, w.owner, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: w.config(), Secret: []byte(creds.ClientSecret)})
	wantKind(t, err, manage.Conflict, "a target's name")

	// The write app passes the test; the read-only sync app is told what
	// it lacks, by name.
	test, err := w.m.TestTarget(ctx, w.owner, "cloud")
	if err != nil || !test.OK {
		t.Fatalf("write app: %+v, %v", test, err)
	}
	reader := "reader"
	if _, err := w.m.AddTarget(ctx, w.owner, manage.TargetInput{Name: &reader, Config: w.targetConfig(creds.ClientID), Secret: []byte(creds.ClientSecret)}); err != nil {
		t.Fatal(err)
	}
	test, err = w.m.TestTarget(ctx, w.owner, "reader")
	e := wantKind(t, err, manage.SourceFailed, "read-only app")
	if !strings.Contains(e.Message, "User.ReadWrite.All and Group.ReadWrite.All") || test.Problem == nil || test.Problem.Kind != "permission" {
		t.Fatalf("read-only app: %q, %+v", e.Message, test.Problem)
	}

	// Changing where the secret goes needs the secret; a change keeps what
	// it does not name.
	_, err = w.m.SetTarget(ctx, w.owner, "cloud", manage.TargetInput{Config: w.targetConfig(creds.ClientID)})
	wantKind(t, err, manage.Invalid, "client_id without the secret")
	off, thr := false, 600
	v, err = w.m.SetTarget(ctx, w.owner, "cloud", manage.TargetInput{Staging: &off, DeletionThreshold: &thr, ResetFlows: true})
	if err != nil {
		t.Fatal(err)
	}
	if v.Settings.Staging || v.Settings.Threshold() != 600 || len(v.Settings.Sources) != 1 || len(v.Settings.Flows) != 0 {
		t.Fatalf("after set: %+v", v.Settings)
	}
	if _, err := w.m.RemoveTarget(ctx, w.owner, "cloud"); err != nil {
		t.Fatal(err)
	}
	_, err = w.m.Target(ctx, w.owner, "cloud")
	wantKind(t, err, manage.NotFound, "removed target")
}

// TestTargetsSyncEveryThirtyMinutes: a target's cycles run on its schedule
// (every 30 minutes unless set), once per slot; a target turned off lets
// its slots pass.
func TestTargetsSyncEveryThirtyMinutes(t *testing.T) {
	w := newWorld(t, 5, 1)
	ctx := t.Context()
	creds := w.srv.Credentials()
	w.addLDAPSource("corp")
	name, staging := "cloud", true
	v, err := w.m.AddTarget(ctx, w.owner, manage.TargetInput{Name: &name, Config: w.targetConfig(creds.WriteApp.ClientID),
		Secret: []byte(creds.WriteApp.ClientSecret), Sources: []string{"corp"}, Staging: &staging})
	if err != nil {
		t.Fatal(err)
	}
	if want := epoch.Add(30 * time.Minute); !v.NextRun.Equal(want) {
		t.Errorf("next run %v, want %v", v.NextRun, want)
	}
	runs := func() int {
		rs, err := w.m.TargetRuns(ctx, w.owner, "cloud", 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	if n, err := w.m.RunDueTargets(ctx); n != 0 || err != nil || runs() != 0 {
		t.Fatalf("at creation: %d ran, %v", n, err)
	}
	w.clock.Advance(31 * time.Minute)
	if n, err := w.m.RunDueTargets(ctx); n != 1 || err != nil || runs() != 1 {
		t.Fatalf("after 31 minutes: %d ran, %v, %d runs", n, err, runs())
	}
	if n, _ := w.m.RunDueTargets(ctx); n != 0 || runs() != 1 {
		t.Fatalf("the same slot ran twice")
	}
	off := false
	if _, err := w.m.SetTarget(ctx, w.owner, "cloud", manage.TargetInput{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	if n, _ := w.m.RunDueTargets(ctx); n != 0 || runs() != 1 {
		t.Fatalf("a target turned off ran")
	}
}
