package manage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/dirsync/dirsync/internal/store"
)

// TokenPrefix starts every API token, so that secret scanners find them.
const TokenPrefix = "dsk_"

// APIToken is an account's bearer token for the REST API; only its hash is
// kept.
type APIToken = store.APIToken

// NewToken is a token as created: its text is shown once, never again.
type NewToken struct {
	APIToken
	Token string `json:"token"`
}

// generateToken makes an API token: its text, the hash to store, and a
// short prefix to tell tokens apart in listings.
func generateToken() (token, hash, prefix string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("manage: new token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), token[:len(TokenPrefix)+6], nil
}

// hashToken is what the store keeps of a token. A plain SHA-256 suffices:
// the token is 256 random bits, so there is nothing to brute-force.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CreateToken creates an API token of the given role in the actor's
// account and returns it with its text, which is shown this once.
func (m *Manager) CreateToken(ctx context.Context, actor Actor, name, role string) (NewToken, error) {
	if err := actor.require(ActManageTokens); err != nil {
		return NewToken{}, err
	}
	r, err := ParseRole(role)
	if err != nil {
		return NewToken{}, err
	}
	text, hash, prefix, err := generateToken()
	if err != nil {
		return NewToken{}, err
	}
	t := store.APIToken{AccountID: actor.AccountID, Name: strings.TrimSpace(name), Role: string(r), Hash: hash, Prefix: prefix}
	if err := m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.CreateToken(ctx, &t) }); err != nil {
		return NewToken{}, err
	}
	return NewToken{APIToken: t, Token: text}, nil
}

// Tokens lists the account's tokens, revoked ones included; never their
// text or hash.
func (m *Manager) Tokens(ctx context.Context, actor Actor) ([]APIToken, error) {
	if err := actor.require(ActManageTokens); err != nil {
		return nil, err
	}
	return m.d.Store.Tokens(ctx, actor.AccountID)
}

// RevokeToken revokes a token at once; revoking twice is fine.
func (m *Manager) RevokeToken(ctx context.Context, actor Actor, id string) error {
	if err := actor.require(ActManageTokens); err != nil {
		return err
	}
	err := m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.RevokeToken(ctx, actor.AccountID, id, m.now()) })
	if errors.Is(err, store.ErrNotFound) {
		return notFound("account %s has no token %q", actor.AccountName, id).with(err)
	}
	return err
}

// Authenticate returns the actor of an API token (the text after
// "Bearer ").
func (m *Manager) Authenticate(ctx context.Context, token string, via Via) (Actor, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Actor{}, newError(Unauthenticated, "an API token is required: Authorization: Bearer TOKEN (create one with: dirsync token create --role ROLE)")
	}
	t, err := m.d.Store.TokenByHash(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, newError(Unauthenticated, "the API token is not valid")
	}
	if err != nil {
		return Actor{}, err
	}
	if !t.RevokedAt.IsZero() {
		return Actor{}, newError(Unauthenticated, "the API token was revoked")
	}
	acc, err := m.d.Store.Account(ctx, t.AccountID)
	if err != nil {
		return Actor{}, err
	}
	return Actor{AccountID: acc.ID, AccountName: acc.Name, Role: Role(t.Role), Via: via, Name: "token " + t.ID}, nil
}

// CountTokens counts the valid API tokens of every account; the operator
// is told when there are none.
func (m *Manager) CountTokens(ctx context.Context, actor Actor) (int, error) {
	if !actor.Operator {
		return 0, newError(Forbidden, "only the deployment's operator may count every account's tokens")
	}
	accs, err := m.d.Store.Accounts(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, acc := range accs {
		toks, err := m.d.Store.Tokens(ctx, acc.ID)
		if err != nil {
			return 0, err
		}
		for _, t := range toks {
			if t.RevokedAt.IsZero() {
				n++
			}
		}
	}
	return n, nil
}
