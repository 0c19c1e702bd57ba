package manage_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestClaimByIdentity is issue 10's point 8: one tenant, named by its id
// in one account and by its domain in another, both sources added before
// either synced. The domain-named source's run, held in its read while
// the id-named source syncs, is refused in its apply: the tenant's id is
// claimed, atomically, by the run that landed first. The refusal says
// that another account holds the tenant and names neither it nor its
// source; within one account it names the source. Removing the holder
// releases the claim.
func TestClaimByIdentity(t *testing.T) {
	w := newWorld(t, 6, 2)
	ctx := t.Context()
	if _, err := w.m.CreateAccount(ctx, manage.DeploymentOperator(), "other"); err != nil {
		t.Fatal(err)
	}
	other, err := w.m.Operator(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	byID := w.addSource(w.owner, "by-id")
	domain := strings.ToUpper(w.tenant.Domain())
	byDomain := w.addNamed(other, "by-domain", domain)

	// by-domain reads, and waits; by-id syncs meanwhile.
	reading, release := make(chan struct{}), make(chan struct{})
	w.hooks.Store("by-domain", func() { close(reading); <-release })
	type result struct {
		run directory.Run
		err error
	}
	done := make(chan result)
	go func() {
		run, err := w.m.SyncNow(ctx, other, byDomain.ID, manage.SyncRequest{})
		done <- result{run, err}
	}()
	<-reading
	if _, err := w.m.SyncNow(ctx, w.owner, byID.ID, manage.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	close(release)
	r := <-done
	e := wantKind(t, r.err, manage.Conflict, "the domain-named source's run")
	if e.Code != manage.CodeDomainClaimed || !strings.Contains(e.Message, "another account") || e.RunID == "" {
		t.Fatalf("refusal %+v", e)
	}
	for _, leak := range []string{"by-id", w.owner.AccountName, byID.ID} {
		if strings.Contains(e.Message, leak) {
			t.Errorf("the refusal to another account names %q: %s", leak, e.Message)
		}
	}
	stored, err := w.m.Run(ctx, other, e.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Outcome != directory.OutcomeFailed || !strings.Contains(stored.Reason, "another account") || stored.Counts.Created != 0 {
		t.Fatalf("stored run %+v", stored)
	}
	if page, _ := w.m.Users(ctx, other, manage.UserQuery{}); len(page.Items) != 0 {
		t.Fatalf("the refused run left %d users in the other account", len(page.Items))
	}

	// Now refused before it connects, by the claim's names: at a sync, a
	// test, and in the holder's account, naming the holder.
	if _, err := w.m.SyncNow(ctx, other, byDomain.ID, manage.SyncRequest{}); manage.KindOf(err) != manage.Conflict {
		t.Fatalf("second sync: %v", err)
	}
	test, err := w.m.TestSource(ctx, other, byDomain.ID)
	if manage.KindOf(err) != manage.Conflict || test.OK || test.Problem == nil || test.Problem.Kind != manage.CodeDomainClaimed {
		t.Fatalf("test of the domain-named source: %+v, %v", test, err)
	}
	_, err = w.m.AddSource(ctx, w.owner, manage.SourceInput{Name: ptr("dup"), Kind: directory.KindEntra, Config: w.configFor(strings.ToLower(domain)),
		Secret: []byte(w.srv.Credentials().ClientSecret)})
	if e := wantKind(t, err, manage.Conflict, "same tenant by domain, same account"); !strings.Contains(e.Message, "source by-id") {
		t.Fatalf("%+v", e)
	}

	// Removing the holder releases the tenant.
	if _, err := w.m.RemoveSource(ctx, w.owner, byID.ID); err != nil {
		t.Fatal(err)
	}
	w.hooks.Delete("by-domain")
	if test, err := w.m.TestSource(ctx, other, byDomain.ID); err != nil || !test.OK {
		t.Fatalf("test after the holder was removed: %+v, %v", test, err)
	}
	if _, err := w.m.SyncNow(ctx, other, byDomain.ID, manage.SyncRequest{}); err != nil {
		t.Fatalf("sync after the holder was removed: %v", err)
	}
	// And the test claimed it: the first account cannot take it back.
	_, err = w.m.AddSource(ctx, w.owner, manage.SourceInput{Name: ptr("again"), Kind: directory.KindEntra, Config: w.config(),
		Secret: []byte(w.srv.Credentials().ClientSecret)})
	if e := wantKind(t, err, manage.Conflict, "the first account adding the tenant back"); !strings.Contains(e.Message, "another account") {
		t.Fatalf("%+v", e)
	}
	// A source pointed elsewhere lets go of what it held.
	if _, err := w.m.UpdateSource(ctx, other, byDomain.ID, manage.SourceInput{Config: w.configFor("elsewhere.example"),
		Secret: []byte(w.srv.Credentials().ClientSecret)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.AddSource(ctx, w.owner, manage.SourceInput{Name: ptr("back"), Kind: directory.KindEntra, Config: w.config(),
		Secret: []byte(w.srv.Credentials().ClientSecret)}); err != nil {
		t.Fatalf("the tenant after its holder moved: %v", err)
	}
}

// configFor is the world's settings with the tenant named as given ("":
// by its id).
func (w *world) configFor(tenant string) json.RawMessage {
	var c map[string]any
	_ = json.Unmarshal(w.config(), &c)
	if tenant != "" {
		c["tenant"] = tenant
	}
	raw, _ := json.Marshal(c)
	return raw
}

// addNamed adds the tenant, named as given, to the actor's account.
func (w *world) addNamed(actor manage.Actor, name, tenant string) manage.SourceView {
	w.t.Helper()
	v, err := w.m.AddSource(w.t.Context(), actor, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: w.configFor(tenant),
		Secret: []byte(w.srv.Credentials().ClientSecret)})
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}
