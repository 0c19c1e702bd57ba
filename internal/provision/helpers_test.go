package provision_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/provision"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
)

// world is a directory (a store fed as an AD source would feed it) and an
// emulated tenant to export it to.
type world struct {
	t      testing.TB
	ctx    context.Context
	st     store.Store
	acc    directory.Account
	src    directory.Source
	target directory.Target
	tenant *entraemu.Tenant
	srv    *entraemu.Server
	conn   *provision.Tenant
	x      *provision.Exporter
}

func newWorld(t testing.TB, cloudUsers int, settings provision.Settings) *world {
	t.Helper()
	w := &world{t: t, ctx: t.Context()}
	var err error
	if w.tenant, err = entraemu.New(entraemu.Options{Users: cloudUsers, Groups: 1, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if w.srv, err = w.tenant.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.srv.Close() })
	st, err := sqlstore.OpenSQLite(w.ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	w.update(func(tx store.Tx) error {
		w.acc = directory.Account{Name: "acme"}
		if err := tx.CreateAccount(w.ctx, &w.acc); err != nil {
			return err
		}
		w.src = directory.Source{AccountID: w.acc.ID, Name: "corp", Kind: directory.KindLDAP, Config: []byte("{}"), Enabled: true}
		return tx.CreateSource(w.ctx, &w.src)
	})
	settings.Sources = []string{w.src.ID}
	raw, _ := json.Marshal(settings)
	w.target = directory.Target{AccountID: w.acc.ID, Name: "cloud", Kind: directory.TargetEntra, Settings: raw, Enabled: true}
	w.update(func(tx store.Tx) error { return tx.CreateTarget(w.ctx, &w.target) })
	creds := w.srv.Credentials()
	cfg := entra.Config{Tenant: creds.TenantID, ClientID: creds.WriteApp.ClientID, Cloud: "custom", AuthorityURL: creds.AuthorityURL,
		GraphURL: creds.GraphURL, CAPEM: string(w.srv.CAPEM())}
	if w.conn, err = provision.Open(cfg, []byte(creds.WriteApp.ClientSecret), provision.Options{}); err != nil {
		t.Fatal(err)
	}
	w.x = &provision.Exporter{Store: st}
	return w
}

func (w *world) update(fn func(tx store.Tx) error) {
	w.t.Helper()
	if err := w.st.Update(w.ctx, fn); err != nil {
		w.t.Fatal(err)
	}
}

// setSettings replaces the target's settings (keeping its source).
func (w *world) setSettings(s provision.Settings) {
	w.t.Helper()
	s.Sources = []string{w.src.ID}
	w.target.Settings, _ = json.Marshal(s)
	w.update(func(tx store.Tx) error { return tx.UpdateTarget(w.ctx, w.target) })
}

// anchorOf is the base64 anchor a name's AD object would have.
func anchorOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return base64.StdEncoding.EncodeToString(sum[:16])
}

// addUser puts a user in the directory as the AD source would: linked,
// with its anchor as ImmutableID.
func (w *world) addUser(name, upn string, enabled bool) directory.User {
	w.t.Helper()
	given, sur, _ := strings.Cut(name, " ")
	u := directory.User{AccountID: w.acc.ID, Enabled: enabled, State: directory.StateFor(enabled), Tags: []string{},
		UserAttributes: directory.UserAttributes{Username: upn, Email: upn, DisplayName: name, GivenName: given, Surname: sur,
			JobTitle: "Engineer", Department: "R&D", AccountName: strings.Split(upn, "@")[0], ImmutableID: anchorOf(name)}}
	w.update(func(tx store.Tx) error {
		if err := tx.CreateUser(w.ctx, &u); err != nil {
			return err
		}
		return tx.Link(w.ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: w.src.ID, ExternalID: "ext-" + name})
	})
	return u
}

func (w *world) editUser(u *directory.User, fn func(*directory.User)) {
	w.t.Helper()
	fn(u)
	w.update(func(tx store.Tx) error { return tx.UpdateUser(w.ctx, *u) })
}

func (w *world) addGroup(name string, members ...directory.User) directory.Group {
	w.t.Helper()
	g := directory.Group{AccountID: w.acc.ID, State: directory.StateActive,
		GroupAttributes: directory.GroupAttributes{Name: name, SecurityEnabled: true}}
	w.update(func(tx store.Tx) error {
		if err := tx.CreateGroup(w.ctx, &g); err != nil {
			return err
		}
		if err := tx.Link(w.ctx, directory.MemberGroup, g.ID, directory.SourceLink{SourceID: w.src.ID, ExternalID: "ext-" + name}); err != nil {
			return err
		}
		for _, m := range members {
			if _, err := tx.AddMembership(w.ctx, w.src.ID, store.Membership{GroupID: g.ID, MemberKind: directory.MemberUser, MemberID: m.ID}); err != nil {
				return err
			}
		}
		return nil
	})
	return g
}

func (w *world) member(g directory.Group, u directory.User, add bool) {
	w.t.Helper()
	w.update(func(tx store.Tx) error {
		m := store.Membership{GroupID: g.ID, MemberKind: directory.MemberUser, MemberID: u.ID}
		var err error
		if add {
			_, err = tx.AddMembership(w.ctx, w.src.ID, m)
		} else {
			_, err = tx.RemoveMembership(w.ctx, w.src.ID, m)
		}
		return err
	})
}

// cycle runs one export cycle and fails the test on an error.
func (w *world) cycle(o provision.CycleOptions) provision.Result {
	w.t.Helper()
	res, err := w.x.Cycle(w.ctx, w.target, w.conn, o)
	if err != nil {
		w.t.Fatalf("cycle: %v", err)
	}
	return res
}

// cloudUser finds the tenant's user with the anchor.
func (w *world) cloudUser(anchor string) (entraemu.User, bool) {
	for _, u := range w.tenant.Users() {
		if u.OnPremisesImmutableID == anchor {
			return u, true
		}
	}
	return entraemu.User{}, false
}

// cloudGroup finds the tenant's group by name, with its members' UPNs.
func (w *world) cloudGroup(name string) (entraemu.Group, []string, bool) {
	for _, g := range w.tenant.Groups() {
		if g.DisplayName == name {
			var upns []string
			for _, m := range w.tenant.DirectMembers(g.ID) {
				if u, ok := w.tenant.User(m.ID); ok {
					upns = append(upns, u.UserPrincipalName)
				}
			}
			return g, upns, true
		}
	}
	return entraemu.Group{}, nil, false
}
