package entraemu

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	// Now is the clock for token expiry, delta token lifetimes, deleted
	// items retention and throttling; nil = time.Now.
	Now func() time.Time
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

// Retention of Microsoft's documented limits.
const (
	deletedRetention  = 30 * 24 * time.Hour // deleted items are purged after 30 days
	deltaTokenMaxAge  = 7 * 24 * time.Hour  // directory delta tokens last 7 days
	deltaSteadyState  = 30 * 24 * time.Hour // an initial round must finish within 30 days
	logCompactAt      = 1 << 20             // entries before the change log is compacted
	logHardCap        = 4 << 20             // entries kept at most, whatever their age
	defaultTokenLife  = time.Hour
	maxBatchRequests  = 20
	maxPageSize       = 999
	defaultPageSize   = 100
	defaultDeltaUsers = 200
)

// Tenant is an emulated Entra ID tenant. Its methods are safe for
// concurrent use.
type Tenant struct {
	opts Options
	now  func() time.Time

	id            string
	domain        string
	initialDomain string
	displayName   string
	createdAt     time.Time
	skus          []Sku

	instance string // distinguishes this process's delta tokens from another's
	deltaKey []byte // MACs delta tokens
	signKey  *rsa.PrivateKey
	kid      string

	mu               sync.RWMutex
	users            map[string]*userRec
	userIDs          []string // active users, sorted
	upns             map[string]string
	groups           map[string]*groupRec
	groupIDs         []string
	objects          map[string]*objRec
	deleted          map[string]*deletedRec
	apps             map[string]*App
	ids              *mrand.Rand // ids of objects created after generation
	log              []change
	logBase          uint64 // sequence number before log[0]
	epoch            uint32 // bumped by ExpireDeltaTokens
	earliestDeletion time.Time

	tokenLife     atomic.Int64 // nanoseconds
	tokenSerial   atomic.Int64 // serial of the last access token issued
	tokensRevoked atomic.Int64 // tokens with a serial up to this are expired
	latency       atomic.Int64
	throttleOn    atomic.Bool

	faults   faultSet
	throttle throttler
	stats    counters

	defaultApp string
	adminApp   string
}

type deletedRec struct {
	user  *userRec
	group *groupRec
	at    time.Time
}

// op is what a change log entry records.
type op uint8

const (
	opCreate op = iota
	opUpdate
	opSoftDelete
	opRestore
	opPurge
	opMemberAdd
	opMemberRemove
)

// change is one entry of the change log that delta queries read. Its
// sequence number is its position: logBase + index + 1.
type change struct {
	at     int64 // unix seconds, for compaction
	id     string
	member string
	props  uint64
	kind   objKind // kUser or kGroup
	op     op
	mkind  objKind
}

// New builds a tenant and generates its objects.
func New(opts Options) (*Tenant, error) {
	if opts.Users < 0 || opts.Groups < 0 {
		return nil, errors.New("entraemu: negative tenant size")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	seedRand := mrand.New(mrand.NewPCG(uint64(opts.Seed), 0x5eed_0f_7e4a47))
	t := &Tenant{
		opts:    opts,
		now:     now,
		users:   map[string]*userRec{},
		upns:    map[string]string{},
		groups:  map[string]*groupRec{},
		objects: map[string]*objRec{},
		deleted: map[string]*deletedRec{},
		apps:    map[string]*App{},
		ids:     mrand.New(mrand.NewPCG(uint64(opts.Seed), 0x1d5)),
	}
	org := orgNames[int(uint64(opts.Seed)%uint64(len(orgNames)))]
	t.id = opts.TenantID
	if t.id == "" {
		t.id = newGUID(seedRand)
	} else if !isGUID(t.id) {
		return nil, fmt.Errorf("entraemu: tenant id %q is not a GUID", t.id)
	}
	t.domain = strings.ToLower(opts.Domain)
	if t.domain == "" {
		t.domain = org.name + ".example"
	}
	if strings.ContainsAny(t.domain, "@/ ") || !strings.Contains(t.domain, ".") {
		return nil, fmt.Errorf("entraemu: domain %q is not a domain name", t.domain)
	}
	t.initialDomain = strings.SplitN(t.domain, ".", 2)[0] + ".onmicrosoft.com"
	t.displayName = opts.DisplayName
	if t.displayName == "" {
		t.displayName = org.display
	}
	t.createdAt = time.Date(2019, 3, 4, 9, 12, 40, 0, time.UTC)
	life := opts.TokenLifetime
	if life <= 0 {
		life = defaultTokenLife
	}
	t.tokenLife.Store(int64(life))
	t.latency.Store(int64(opts.Latency))
	t.throttleOn.Store(opts.Throttle)

	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("entraemu: random: %w", err)
	}
	t.instance = hex.EncodeToString(nonce[:6])
	t.deltaKey = make([]byte, 32)
	if _, err := rand.Read(t.deltaKey); err != nil {
		return nil, fmt.Errorf("entraemu: random: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("entraemu: signing key: %w", err)
	}
	t.signKey = key
	t.kid = hex.EncodeToString(nonce[6:])

	// Apps: the sync app (read permissions) and an admin app (write).
	clientID := opts.ClientID
	if clientID == "" {
		clientID = newGUID(seedRand)
	}
	secret := opts.ClientSecret
	if secret == "" {
		secret = newSecret()
	}
	t.defaultApp = clientID
	t.apps[clientID] = &App{ClientID: clientID, DisplayName: "dirsync", Secret: secret, SecretID: newGUID(seedRand), Roles: slices.Clone(ReadRoles)}
	admin := newGUID(seedRand)
	t.adminApp = admin
	t.apps[admin] = &App{ClientID: admin, DisplayName: "dirsync emulator admin", Secret: newSecret(), SecretID: newGUID(seedRand), Roles: slices.Clone(AdminRoles)}

	t.throttle.init()
	generate(t, seedRand)
	return t, nil
}

// ID is the tenant's GUID.
func (t *Tenant) ID() string { return t.id }

// Domain is the primary verified domain.
func (t *Tenant) Domain() string { return t.domain }

// InitialDomain is the tenant's *.onmicrosoft.com domain.
func (t *Tenant) InitialDomain() string { return t.initialDomain }

// Domains lists the tenant's domains.
func (t *Tenant) Domains() []Domain {
	return []Domain{
		{Name: t.domain, IsDefault: true, Verified: true},
		{Name: t.initialDomain, IsInitial: true, Verified: true},
	}
}

// Skus lists the subscribed SKUs.
func (t *Tenant) Skus() []Sku { return slices.Clone(t.skus) }

// DefaultApp is the generated sync app: read permissions, a valid secret.
func (t *Tenant) DefaultApp() App {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return cloneApp(t.apps[t.defaultApp])
}

// AdminApp is the generated admin app, allowed to write.
func (t *Tenant) AdminApp() App {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return cloneApp(t.apps[t.adminApp])
}

func cloneApp(a *App) App {
	c := *a
	c.Roles = slices.Clone(a.Roles)
	return c
}

// AddApp registers an app (or replaces the one with the same client ID). An
// app without Roles has no admin consent: its tokens carry no roles and
// Graph answers 403.
func (t *Tenant) AddApp(a App) error {
	if !isGUID(a.ClientID) {
		return fmt.Errorf("entraemu: add app: client id %q is not a GUID", a.ClientID)
	}
	if a.Secret == "" && a.Certificate == nil {
		return errors.New("entraemu: add app: neither a secret nor a certificate")
	}
	if a.DisplayName == "" {
		a.DisplayName = "app " + a.ClientID[:8]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := a
	c.Roles = slices.Clone(a.Roles)
	if c.SecretID == "" {
		c.SecretID = newGUID(t.ids)
	}
	t.apps[a.ClientID] = &c
	return nil
}

// SetTokenLifetime changes the lifetime of access tokens issued from now on.
func (t *Tenant) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = defaultTokenLife
	}
	t.tokenLife.Store(int64(d))
}

// ExpireAccessTokens makes every access token issued so far answer 401 as
// expired, as when tokens run out mid-run.
func (t *Tenant) ExpireAccessTokens() {
	t.tokensRevoked.Store(t.tokenSerial.Load())
}

// SetLatency changes the latency added to each request.
func (t *Tenant) SetLatency(d time.Duration) { t.latency.Store(int64(d)) }

// SetThrottle turns resource-unit throttling on or off.
func (t *Tenant) SetThrottle(on bool) { t.throttleOn.Store(on) }

// ExpireDeltaTokens makes every delta and skip token issued so far answer
// 410 Gone (resyncRequired), as after tenant maintenance.
func (t *Tenant) ExpireDeltaTokens() {
	t.mu.Lock()
	t.epoch++
	t.mu.Unlock()
}

// ---- errors ----

// ErrNotFound is matched (errors.Is) by errors for objects that do not
// exist; ErrConflict by errors for values another object already holds.
var (
	ErrNotFound = errors.New("entraemu: not found")
	ErrConflict = errors.New("entraemu: conflict")
)

// apiError is an error with Graph's status and code, returned by the admin
// methods and written by the Graph endpoints.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return "entraemu: " + e.msg }

func (e *apiError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.status == 404
	case ErrConflict:
		return e.code == codeConflict
	}
	return false
}

const (
	codeBadRequest  = "Request_BadRequest"
	codeNotFound    = "Request_ResourceNotFound"
	codeUnsupported = "Request_UnsupportedQuery"
	codeConflict    = "Request_BadRequest_Conflict" // written as Request_BadRequest
)

func notFound(id string) *apiError {
	return &apiError{404, codeNotFound, fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{400, codeBadRequest, fmt.Sprintf(format, args...)}
}

func conflict(prop string) *apiError {
	return &apiError{400, codeConflict, fmt.Sprintf("Another object with the same value for property %s already exists.", prop)}
}

// ---- change log ----

func (t *Tenant) seq() uint64 { return t.logBase + uint64(len(t.log)) }

func (t *Tenant) record(c change) {
	c.at = t.now().Unix()
	t.log = append(t.log, c)
	if len(t.log) >= logCompactAt {
		t.compactLog()
	}
}

// compactLog drops entries no valid token can still need: those older than
// a delta token's lifetime, and beyond a hard cap the oldest half. Tokens
// pointing before the kept part answer 410.
func (t *Tenant) compactLog() {
	cutoff := t.now().Add(-deltaTokenMaxAge).Unix()
	n := 0
	for n < len(t.log) && t.log[n].at < cutoff {
		n++
	}
	if len(t.log)-n > logHardCap {
		n = len(t.log) / 2
	}
	if n == 0 {
		return
	}
	t.logBase += uint64(n)
	t.log = slices.Clone(t.log[n:])
}

// ---- deleted items retention ----

// expireDeleted purges deleted items older than 30 days. Called with the
// write lock held.
func (t *Tenant) expireDeleted() {
	now := t.now()
	if t.earliestDeletion.IsZero() || now.Sub(t.earliestDeletion) < deletedRetention {
		return
	}
	t.earliestDeletion = time.Time{}
	ids := make([]string, 0, len(t.deleted))
	for id := range t.deleted {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		d := t.deleted[id]
		if now.Sub(d.at) >= deletedRetention {
			delete(t.deleted, id)
			kind := kUser
			if d.group != nil {
				kind = kGroup
			}
			t.record(change{kind: kind, id: id, op: opPurge})
			continue
		}
		if t.earliestDeletion.IsZero() || d.at.Before(t.earliestDeletion) {
			t.earliestDeletion = d.at
		}
	}
}

// maybeExpireDeleted runs the retention check when one could be due,
// without taking the write lock on every request.
func (t *Tenant) maybeExpireDeleted() {
	t.mu.RLock()
	due := !t.earliestDeletion.IsZero() && t.now().Sub(t.earliestDeletion) >= deletedRetention
	t.mu.RUnlock()
	if due {
		t.mu.Lock()
		t.expireDeleted()
		t.mu.Unlock()
	}
}

func (t *Tenant) noteDeletion(at time.Time) {
	if t.earliestDeletion.IsZero() || at.Before(t.earliestDeletion) {
		t.earliestDeletion = at
	}
}
