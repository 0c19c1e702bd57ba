package entra_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/entraemu"
)

// TestIdentity: a tenant is identified by its id, named by id or by its
// domain; with Organization.Read.All (or Directory.Read.All) the identity
// carries the verified domains, and without it the id still comes, from
// the access token.
func TestIdentity(t *testing.T) {
	tenant, cfg, secret, _, open := startEmulator(t, entraemu.Options{Users: 3, Groups: 1, Seed: 3})
	id := strings.ToLower(cfg.Tenant)
	domain := strings.ToLower(tenant.Domain())
	for _, name := range []string{cfg.Tenant, strings.ToUpper(domain)} {
		c := cfg
		c.Tenant = name
		got, err := open(c, secret).(connector.Identifier).Identity(t.Context())
		if err != nil {
			t.Fatalf("named %s: %v", name, err)
		}
		if got.Key != "entra:"+id || !slices.Contains(got.Names, id) || !slices.Contains(got.Names, domain) {
			t.Fatalf("named %s: %+v, want entra:%s with %s", name, got, id, domain)
		}
	}
	// An app that may read users and members, not the organization.
	narrow := entraemu.App{ClientID: "55555555-6666-7777-8888-999999999999", DisplayName: "narrow", Secret: "narrow-secret-value",
		Roles: []string{"User.Read.All", "GroupMember.Read.All"}}
	if err := tenant.AddApp(narrow); err != nil {
		t.Fatal(err)
	}
	c := cfg
	c.ClientID, c.Tenant = narrow.ClientID, domain
	got, err := open(c, narrow.Secret).(connector.Identifier).Identity(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != "entra:"+id || !slices.Contains(got.Names, domain) {
		t.Fatalf("without Organization.Read.All: %+v, want entra:%s (from the token) named %s", got, id, domain)
	}
}
