package entraemu

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/faults"
	"github.com/dirsync/dirsync/internal/entraemu/gen"
	"github.com/dirsync/dirsync/internal/entraemu/login"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/stats"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/throttle"
)

// The directory's types, as callers of this package name them.
type (
	User            = model.User
	Group           = model.Group
	AssignedLicense = model.AssignedLicense
	Member          = model.Member
	Object          = model.Object
	App             = model.App
	Sku             = model.Sku
	ServicePlan     = model.ServicePlan
	Domain          = model.Domain
	Fault           = faults.Fault
	Stats           = stats.Stats
)

// Object kinds, as the names after "#microsoft.graph." in @odata.type.
const (
	KindUser             = model.KindUser
	KindGroup            = model.KindGroup
	KindDevice           = model.KindDevice
	KindOrgContact       = model.KindOrgContact
	KindServicePrincipal = model.KindServicePrincipal
)

// Permission names the emulator checks.
const (
	PermUserReadAll             = model.PermUserReadAll
	PermUserReadWriteAll        = model.PermUserReadWriteAll
	PermGroupReadAll            = model.PermGroupReadAll
	PermGroupReadWriteAll       = model.PermGroupReadWriteAll
	PermGroupMemberReadAll      = model.PermGroupMemberReadAll
	PermGroupMemberReadWriteAll = model.PermGroupMemberReadWriteAll
	PermDirectoryReadAll        = model.PermDirectoryReadAll
	PermDirectoryReadWriteAll   = model.PermDirectoryReadWriteAll
	PermOrganizationReadAll     = model.PermOrganizationReadAll
	PermDomainReadAll           = model.PermDomainReadAll
	PermLicenseAssignReadAll    = model.PermLicenseAssignReadAll
)

// ReadRoles are the roles of the generated sync app; AdminRoles those of
// the generated admin app, which may also write.
var (
	ReadRoles  = model.ReadRoles
	AdminRoles = model.AdminRoles
)

// ErrNotFound is matched (errors.Is) by errors for objects that do not
// exist; ErrConflict by errors for values another object already holds.
var (
	ErrNotFound = model.ErrNotFound
	ErrConflict = model.ErrConflict
)

// Options configure a tenant. The zero value is a small tenant with no
// throttling and no latency.
type Options struct {
	// TenantID is the tenant's GUID; derived from Seed when empty.
	TenantID string
	// Domain is the primary verified domain, such as "contoso.example";
	// derived from Seed when empty. The tenant also has an initial
	// "*.onmicrosoft.com" domain, which guests' UPNs use.
	Domain string
	// DisplayName is the organization's name; derived when empty.
	DisplayName string
	// Users and Groups are the sizes to generate.
	Users, Groups int
	// Seed makes generation deterministic: the same seed and sizes give the
	// same objects with the same ids.
	Seed int64
	// Latency is added to every HTTP request, login included (0 = none).
	Latency time.Duration
	// TokenLifetime is the access tokens' lifetime; default 1h, announced
	// as expires_in 3599 as Entra does.
	TokenLifetime time.Duration
	// Throttle enforces Microsoft's resource-unit budgets per app per
	// tenant. The zero value leaves throttling off; the CLI turns it on.
	Throttle bool
	// ThrottleBudget overrides the budget in resource units per 10 seconds
	// (0 = Microsoft's: 3,500, 5,000 or 8,000 by tenant size).
	ThrottleBudget int
	// Clock is the time of token expiry, delta token lifetimes, deleted
	// items retention, throttling and latency; nil = the system's.
	Clock clock.Clock
	// ClientID and ClientSecret pin the generated sync app's credentials.
	// The client ID is derived from Seed when empty; the secret is random.
	ClientID, ClientSecret string
	// Hosts are extra DNS names or IP addresses for the server certificate,
	// beyond 127.0.0.1, ::1 and localhost.
	Hosts []string
	// Delta page sizes: users per page (default 200, as Graph), groups per
	// page (default 100) and member references per page (default 1,000),
	// past which a group's members continue on the next page.
	DeltaUserPageSize, DeltaGroupPageSize, DeltaMemberPageSize int
}

// Tenant is an emulated Entra ID tenant: its directory (whose admin
// methods, such as CreateUser, DeleteUser and AddMember, change it as an
// administrator would), its app registrations, and the faults, throttling
// and latency its server applies. Its methods are safe for concurrent use.
type Tenant struct {
	*tenant.Directory

	opts       Options
	clock      clock.Clock
	authority  *login.Authority
	limiter    *throttle.Limiter
	faults     faults.Set
	stats      stats.Counters
	latency    atomic.Int64
	defaultApp string
	adminApp   string
	graphURL   atomic.Value // string: the URL of the server serving the tenant
}

// New builds a tenant and generates its objects.
func New(opts Options) (*Tenant, error) {
	if opts.Users < 0 || opts.Groups < 0 {
		return nil, errors.New("entraemu: negative tenant size")
	}
	seedRand := mrand.New(mrand.NewPCG(uint64(opts.Seed), 0x5eed_0f_7e4a47))
	org, err := newOrg(opts, seedRand)
	if err != nil {
		return nil, err
	}
	t := &Tenant{opts: opts, clock: clock.Or(opts.Clock)}
	t.graphURL.Store("")
	t.latency.Store(int64(opts.Latency))
	t.authority, err = login.New(login.Tenant{ID: org.ID, Domains: []string{org.Domain, org.InitialDomain}, DisplayName: org.DisplayName}, t.clock, &t.stats, func() string { return t.graphURL.Load().(string) })
	if err != nil {
		return nil, err
	}
	if opts.TokenLifetime > 0 {
		t.authority.SetTokenLifetime(opts.TokenLifetime)
	}
	if err := t.addGeneratedApps(seedRand); err != nil {
		return nil, err
	}
	ds := gen.Generate(gen.Spec{Users: opts.Users, Groups: opts.Groups, Domain: org.Domain, InitialDomain: org.InitialDomain, DisplayName: org.DisplayName, TenantID: org.ID}, seedRand)
	t.Directory = tenant.New(org, ds, mrand.New(mrand.NewPCG(uint64(opts.Seed), 0x1d5)), t.clock)
	t.limiter = &throttle.Limiter{TenantID: org.ID, Budget: t.budget, Clock: t.clock, Stats: &t.stats}
	t.limiter.SetEnabled(opts.Throttle)
	return t, nil
}

// newOrg names the organization: from the options, or derived from the
// seed.
func newOrg(opts Options, seedRand *mrand.Rand) (tenant.Org, error) {
	name, display := gen.Org(opts.Seed)
	org := tenant.Org{ID: opts.TenantID, Domain: strings.ToLower(opts.Domain), DisplayName: opts.DisplayName, CreatedAt: time.Date(2019, 3, 4, 9, 12, 40, 0, time.UTC)}
	if org.ID == "" {
		org.ID = model.NewGUID(seedRand)
	} else if !model.IsGUID(org.ID) {
		return org, fmt.Errorf("entraemu: tenant id %q is not a GUID", org.ID)
	}
	if org.Domain == "" {
		org.Domain = name + ".example"
	}
	if strings.ContainsAny(org.Domain, "@/ ") || !strings.Contains(org.Domain, ".") {
		return org, fmt.Errorf("entraemu: domain %q is not a domain name", org.Domain)
	}
	org.InitialDomain = strings.SplitN(org.Domain, ".", 2)[0] + ".onmicrosoft.com"
	if org.DisplayName == "" {
		org.DisplayName = display
	}
	return org, nil
}

// addGeneratedApps registers the sync app (read permissions) and the admin
// app (write permissions).
func (t *Tenant) addGeneratedApps(seedRand *mrand.Rand) error {
	clientID := t.opts.ClientID
	if clientID == "" {
		clientID = model.NewGUID(seedRand)
	}
	secret := t.opts.ClientSecret
	if secret == "" {
		secret = login.NewSecret()
	}
	t.defaultApp = clientID
	sync := App{ClientID: clientID, DisplayName: "dirsync", Secret: secret, SecretID: model.NewGUID(seedRand), Roles: ReadRoles}
	if err := t.authority.AddApp(sync, nil); err != nil {
		return err
	}
	t.adminApp = model.NewGUID(seedRand)
	admin := App{ClientID: t.adminApp, DisplayName: "dirsync emulator writer", Secret: login.NewSecret(), SecretID: model.NewGUID(seedRand), Roles: AdminRoles}
	return t.authority.AddApp(admin, nil)
}

// budget is the RU limit per 10 seconds for this tenant.
func (t *Tenant) budget() float64 {
	if t.opts.ThrottleBudget > 0 {
		return float64(t.opts.ThrottleBudget)
	}
	n := 0
	t.Read(func(v *tenant.View) { n = v.UserCount() })
	return throttle.Budget(n)
}

// DefaultApp is the generated sync app: read permissions, a valid secret.
func (t *Tenant) DefaultApp() App {
	a, _ := t.authority.App(t.defaultApp)
	return a
}

// AdminApp is the generated admin app, allowed to write.
func (t *Tenant) AdminApp() App {
	a, _ := t.authority.App(t.adminApp)
	return a
}

// AddApp registers an app (or replaces the one with the same client ID). An
// app without Roles has no admin consent: its tokens carry no roles and
// Graph answers 403.
func (t *Tenant) AddApp(a App) error {
	return t.authority.AddApp(a, model.RandomGUID)
}

// SetTokenLifetime changes the lifetime of access tokens issued from now on.
func (t *Tenant) SetTokenLifetime(d time.Duration) { t.authority.SetTokenLifetime(d) }

// ExpireAccessTokens makes every access token issued so far answer 401 as
// expired, as when tokens run out mid-run.
func (t *Tenant) ExpireAccessTokens() { t.authority.ExpireAccessTokens() }

// SetLatency changes the latency added to each request.
func (t *Tenant) SetLatency(d time.Duration) { t.latency.Store(int64(d)) }

// SetThrottle turns resource-unit throttling on or off.
func (t *Tenant) SetThrottle(on bool) { t.limiter.SetEnabled(on) }

// InjectFault adds a fault; the returned func removes it.
func (t *Tenant) InjectFault(f Fault) (remove func()) { return t.faults.Inject(f) }

// ClearFaults removes every injected fault.
func (t *Tenant) ClearFaults() { t.faults.Clear() }

// Stats returns a snapshot of the request counters.
func (t *Tenant) Stats() Stats { return t.stats.Snapshot() }

// ResetStats zeroes the counters.
func (t *Tenant) ResetStats() { t.stats.Reset() }

// ParseCertificatePEM is a small helper for callers registering an app's
// certificate from a PEM file.
var ParseCertificatePEM = login.ParseCertificatePEM
