package store

import (
	"context"
	"time"
)

// DomainClaim is a directory (an Entra tenant, an AD domain) held by one
// source of one account in the whole deployment: "one domain, one
// source". Its Key is unique across accounts, so two transactions that
// claim the same directory cannot both commit.
type DomainClaim struct {
	// Key is the directory's identity (connector.Identity.Key).
	Key       string
	AccountID string
	SourceID  string
	// Names are what settings may call the directory (lowercase), for
	// refusing a source whose settings name a claimed directory before
	// it ever connects.
	Names     []string
	ClaimedAt time.Time
}

// ClaimReader reads the claims.
type ClaimReader interface {
	// DomainClaims lists every claim of the deployment, by key.
	DomainClaims(ctx context.Context) ([]DomainClaim, error)
}

// ClaimTx writes them.
type ClaimTx interface {
	// SetDomainClaim records c, replacing the claim its source held
	// before (a source reads one directory). It returns ErrAlreadyExists
	// when another source holds c.Key.
	SetDomainClaim(ctx context.Context, c DomainClaim) error
	// ReleaseDomainClaim drops the source's claim, if it holds one.
	ReleaseDomainClaim(ctx context.Context, sourceID string) error
}

// SecretTx rewrites what is sealed under the master key.
type SecretTx interface {
	// ResealSecrets hands every sealed value the store keeps (sources'
	// and targets' credentials, webhooks' signing secrets, the outbox's
	// mail bodies)
	// to reseal and writes back what it returns, in the transaction: a
	// master key rotation. It returns how many values it rewrote; an
	// error from reseal stops it (and the transaction rolls back).
	ResealSecrets(ctx context.Context, reseal func(sealed []byte) ([]byte, error)) (int, error)
}
