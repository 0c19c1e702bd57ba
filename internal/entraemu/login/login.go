// Package login is the emulated tenant's identity platform: the endpoints
// Microsoft's auth libraries (MSAL, azidentity) call for the client
// credentials flow with a custom authority (OpenID configuration, instance
// discovery, signing keys, the v2.0 token endpoint), the app registrations
// that may ask for tokens, and the validation of the access tokens it
// issues. Errors carry Microsoft's AADSTS codes in Microsoft's body shape.
package login

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/stats"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// GraphAppID is Microsoft Graph's well-known application id, one of the
// audiences Graph accepts.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// DefaultTokenLifetime is the access tokens' lifetime unless set.
const DefaultTokenLifetime = time.Hour

// Tenant is what the identity platform knows of its tenant.
type Tenant struct {
	ID          string
	Domains     []string // lower case: the tenant may be named by any
	DisplayName string
}

// Authority issues and validates a tenant's tokens.
type Authority struct {
	tenant Tenant
	clock  clock.Clock
	stats  *stats.Counters
	// graphURL returns the Graph base URL, an audience tokens may name.
	graphURL func() string

	signKey *rsa.PrivateKey
	kid     string

	mu   sync.RWMutex
	apps map[string]*model.App

	tokenLife     atomic.Int64 // nanoseconds
	tokenSerial   atomic.Int64 // serial of the last access token issued
	tokensRevoked atomic.Int64 // tokens with a serial up to this are expired
}

// New returns an authority with a new signing key and no apps.
func New(t Tenant, c clock.Clock, st *stats.Counters, graphURL func() string) (*Authority, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("entraemu: signing key: %w", err)
	}
	var kid [6]byte
	if _, err := rand.Read(kid[:]); err != nil {
		return nil, fmt.Errorf("entraemu: random: %w", err)
	}
	a := &Authority{tenant: t, clock: clock.Or(c), stats: st, graphURL: graphURL, signKey: key, kid: hex.EncodeToString(kid[:]), apps: map[string]*model.App{}}
	a.tokenLife.Store(int64(DefaultTokenLifetime))
	return a, nil
}

// AddApp registers an app (or replaces the one with the same client ID). An
// app without Roles has no admin consent: its tokens carry no roles and
// Graph answers 403. secretID draws a secret id when the app has none.
func (a *Authority) AddApp(app model.App, secretID func() string) error {
	if !model.IsGUID(app.ClientID) {
		return fmt.Errorf("entraemu: add app: client id %q is not a GUID", app.ClientID)
	}
	if app.Secret == "" && app.Certificate == nil {
		return errors.New("entraemu: add app: neither a secret nor a certificate")
	}
	if app.DisplayName == "" {
		app.DisplayName = "app " + app.ClientID[:8]
	}
	c := app.Clone()
	if c.SecretID == "" {
		c.SecretID = secretID()
	}
	a.mu.Lock()
	a.apps[app.ClientID] = &c
	a.mu.Unlock()
	return nil
}

// App returns a registered app.
func (a *Authority) App(clientID string) (model.App, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	app, ok := a.apps[clientID]
	if !ok {
		return model.App{}, false
	}
	return app.Clone(), true
}

// SetTokenLifetime changes the lifetime of access tokens issued from now on.
func (a *Authority) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = DefaultTokenLifetime
	}
	a.tokenLife.Store(int64(d))
}

// ExpireAccessTokens makes every access token issued so far answer 401 as
// expired, as when tokens run out mid-run.
func (a *Authority) ExpireAccessTokens() {
	a.tokensRevoked.Store(a.tokenSerial.Load())
}

// matchesTenant reports whether a tenant segment names this tenant: by id
// or by one of its domains, case-insensitively.
func (a *Authority) matchesTenant(s string) bool {
	s = strings.ToLower(s)
	return s == strings.ToLower(a.tenant.ID) || slices.Contains(a.tenant.Domains, s)
}

// Handler serves the login endpoints, by a route table:
//
//	GET  /common/discovery/instance
//	GET  /{tenant}/v2.0/.well-known/openid-configuration (and the v1 form)
//	GET  /{tenant}/discovery/v2.0/keys (and the v1 form)
//	POST /{tenant}/oauth2/v2.0/token
func (a *Authority) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := []struct {
		pattern, kind string
		h             func(*call) *wire.Response
	}{
		{"/common/discovery/instance", "instanceDiscovery", a.instanceDiscovery},
		{"/{tenant}/v2.0/.well-known/openid-configuration", "openidConfiguration", a.openIDConfig(true)},
		{"/{tenant}/.well-known/openid-configuration", "openidConfiguration", a.openIDConfig(false)},
		{"/{tenant}/discovery/v2.0/keys", "keys", a.keys},
		{"/{tenant}/discovery/keys", "keys", a.keys},
		{"/{tenant}/oauth2/v2.0/token", "token", a.token},
		{"/", "", a.notFound},
	}
	for _, rt := range routes {
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			a.stats.Login.Add(1)
			if rt.kind != "" {
				a.stats.LoginKind(rt.kind)
			}
			rt.h(&call{r: r, base: "https://" + r.Host, ids: wire.IDsOf(w.Header())}).Write(w)
		})
	}
	return mux
}

// call is one request to a login endpoint.
type call struct {
	r    *http.Request
	base string // https://host as the client called it
	ids  wire.IDs
}

func (a *Authority) notFound(c *call) *wire.Response {
	return a.aadError(c, 404, "not_found", 0, "The requested resource was not found.")
}

// aadError is Microsoft's login error body. The description carries the
// AADSTS code and ends with the trace, correlation and timestamp lines.
func (a *Authority) aadError(c *call, status int, code string, num int, desc string) *wire.Response {
	return AADError(status, code, num, desc, c.ids, a.clock.Now(), c.base)
}

// AADError is Microsoft's login error body for the given AADSTS number (0
// for none).
func AADError(status int, code string, num int, desc string, ids wire.IDs, now time.Time, base string) *wire.Response {
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	full := desc
	if num != 0 {
		full = fmt.Sprintf("AADSTS%d: %s", num, desc)
	}
	full += "\r\nTrace ID: " + ids.Request + "\r\nCorrelation ID: " + ids.Client + "\r\nTimestamp: " + ts
	codes := []int{}
	if num != 0 {
		codes = []int{num}
	}
	resp := wire.JSON(status, map[string]any{
		"error":             code,
		"error_description": full,
		"error_codes":       codes,
		"timestamp":         ts,
		"trace_id":          ids.Request,
		"correlation_id":    ids.Client,
		"error_uri":         fmt.Sprintf("%s/error?code=%d", base, num),
	})
	resp.Header.Set("Cache-Control", "no-store, no-cache")
	resp.Header.Set("Pragma", "no-cache")
	resp.Header.Set("x-ms-request-id", ids.Request)
	return resp
}

func (a *Authority) tenantNotFound(c *call, tenant string) *wire.Response {
	return a.aadError(c, 400, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant))
}

// NewSecret returns a client secret value shaped like Entra's: 40
// characters with "8Q~" after the first three.
func NewSecret() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
	var raw [37]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("entraemu: random: " + err.Error())
	}
	out := make([]byte, 0, 40)
	for i, c := range raw {
		out = append(out, alphabet[int(c)%len(alphabet)])
		if i == 2 {
			out = append(out, "8Q~"...)
		}
	}
	return string(out[:40])
}
