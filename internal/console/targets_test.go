package console_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/store"
)

// An administrator reads a staging target's plan in the console, turns
// staging off and runs a cycle; the tenant then has the user. A reader sees
// the target without its buttons.
func TestTargetPages(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	name, staging := "corp", true
	src, err := w.m().AddSource(ctx, w.op, manage.SourceInput{Name: &name, Kind: directory.KindLDAP, Secret: []byte("pw"),
		Config: json.RawMessage(`{"urls":["ldaps://127.0.0.1:1"],"base_dn":"DC=corp,DC=example","bind_dn":"svc@corp.example"}`)})
	if err != nil {
		t.Fatal(err)
	}
	upn := "t-ann@" + w.tenant.Domain()
	u := directory.User{AccountID: w.op.AccountID, Enabled: true, State: directory.StateActive, Tags: []string{},
		UserAttributes: directory.UserAttributes{Username: upn, DisplayName: "Ann Target", AccountName: "t-ann",
			ImmutableID: base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))}}
	if err := w.parts.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		return tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: src.ID, ExternalID: "ann"})
	}); err != nil {
		t.Fatal(err)
	}
	c := w.emu.Credentials()
	raw, _ := json.Marshal(entra.Config{Tenant: c.TenantID, ClientID: c.WriteApp.ClientID, Cloud: "custom", AuthMethod: entra.AuthSecret,
		AuthorityURL: c.AuthorityURL, GraphURL: c.GraphURL, CAPEM: string(w.emu.CAPEM())})
	tname := "cloud"
	if _, err := w.m().AddTarget(ctx, w.op, manage.TargetInput{Name: &tname, Config: raw, Secret: []byte(c.WriteApp.ClientSecret),
		Sources: []string{"corp"}, Staging: &staging}); err != nil {
		t.Fatal(err)
	}

	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/targets")
	if !strings.Contains(b.text("#targets"), "Staging") {
		t.Fatalf("targets page: %s", b.text("main"))
	}
	b.audit("targets")
	b.open("/targets/cloud")
	b.audit("target")
	// waitCycle waits until the page shows a finished cycle with outcome.
	waitCycle := func(outcome string, n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			b.open("/targets/cloud")
			if b.count("#cycles tbody tr") >= n && strings.Contains(b.text("#cycles tbody tr:first-child"), outcome) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("no %s cycle shown: %s", outcome, b.text("main"))
	}
	b.submit(`form[action="/targets/cloud/sync"]`, nil)
	waitCycle("staged", 1)
	if _, ok := w.tenant.User(upn); ok {
		t.Fatal("a staging target wrote to the tenant")
	}
	b.open("/targets/cloud")
	href := eval[string](b, `document.querySelector("#cycles tbody tr a").getAttribute("href")`)
	b.open(href)
	if plan := b.text("#plan"); !strings.Contains(plan, "create_user") || !strings.Contains(plan, upn) {
		t.Fatalf("the plan page: %s", b.text("main"))
	}
	b.audit("target-run")

	b.open("/targets/cloud")
	b.submit(`form[action="/targets/cloud/staging"]`, nil)
	if mode := b.text("#mode"); !strings.Contains(mode, "Writing") {
		t.Fatalf("after turning staging off: %s", mode)
	}
	b.submit(`form[action="/targets/cloud/sync"]`, nil)
	waitCycle("succeeded", 2)
	if cu, ok := w.tenant.User(upn); !ok || cu.DisplayName != "Ann Target" {
		t.Fatalf("the tenant after the cycle: %v %+v", ok, cu)
	}

	r := w.newTab("reader")
	r.signIn(readerEmail)
	r.open("/targets/cloud")
	if r.count("#run-cycle") != 0 || r.count("#staging-on") != 0 {
		t.Fatal("a reader sees the target's buttons")
	}
	r.audit("target-reader")
}
