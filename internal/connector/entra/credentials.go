package entra

import (
	"crypto/sha256"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/dirsync/dirsync/internal/graph"
)

// credentials keeps the process's credentials, one per app sign-in, from
// one run of a source to the next: each holds its access token (about an
// hour, renewed a few minutes before it expires) and the tenant's login
// metadata. A run that opened a credential of its own signed in first,
// two round trips (the tenant's OpenID configuration, then the token)
// before its first Graph request: a third of the least time of an
// incremental run of a 20,000-user tenant, on every run.
//
// A credential is found by everything it signs in with: the cloud, the
// tenant, the app, the secret or certificate and the extra CAs. A new
// secret is a new credential; a secret revoked at the tenant leaves the
// tokens already issued valid until they expire, as Entra does, and a
// token Graph refuses (401) is renewed by the Graph client.
var credentials = &credentialCache{m: map[[sha256.Size]byte]azcore.TokenCredential{}}

// maxCredentials bounds the cache: past it, it starts again empty (a
// process syncs a few sources; a test process opens many).
const maxCredentials = 256

type credentialCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]azcore.TokenCredential
}

// get returns the credential cfg, cl and secret sign in with, made by
// build the first time.
func (c *credentialCache) get(cfg Config, cl graph.Cloud, secret []byte, build func() (azcore.TokenCredential, error)) (azcore.TokenCredential, error) {
	h := sha256.New()
	for _, part := range []string{cl.AuthorityURL, cl.Scope(), cfg.Tenant, cfg.ClientID, string(cfg.authMethod()), string(secret), cfg.CAPEM} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	c.mu.Lock()
	defer c.mu.Unlock()
	if cred, ok := c.m[k]; ok {
		return cred, nil
	}
	cred, err := build()
	if err != nil {
		return nil, err
	}
	if len(c.m) >= maxCredentials {
		clear(c.m)
	}
	c.m[k] = cred
	return cred, nil
}
