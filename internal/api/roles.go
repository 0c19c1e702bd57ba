package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Role is what an API token may do: Duo's administrator roles, each able to
// do everything the ones below it can.
type Role string

// Roles, from the least to the most powerful.
const (
	RoleReadOnly      Role = "read_only"     // read everything but tokens
	RoleHelpDesk      Role = "help_desk"     // and sync one user
	RoleUserManager   Role = "user_manager"  // and edit users' local attributes, restore from the trash
	RoleAdministrator Role = "administrator" // and manage sources, webhooks, syncs, purge
	RoleOwner         Role = "owner"         // and manage API tokens
)

// Roles lists every role, least powerful first.
var Roles = []Role{RoleReadOnly, RoleHelpDesk, RoleUserManager, RoleAdministrator, RoleOwner}

func (r Role) rank() int { return slices.Index(Roles, r) }

// Allows reports whether a token of role r may use a route that needs min.
func (r Role) Allows(min Role) bool { return r.rank() >= 0 && r.rank() >= min.rank() }

// ParseRole reads a role, accepting Duo's spelling ("User Manager",
// "user-manager", "Read-only").
func ParseRole(s string) (Role, error) {
	n := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
	if r := Role(n); r.rank() >= 0 {
		return r, nil
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q: want one of %s", s, strings.Join(names, ", "))
}

// TokenPrefix starts every API token, so that secret scanners find them.
const TokenPrefix = "dsk_"

// NewToken makes an API token: its text (shown once), the hash to store,
// and a short prefix to tell tokens apart in listings.
func NewToken() (token, hash, prefix string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("api: new token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), token[:len(TokenPrefix)+6], nil
}

// HashToken is what the store keeps of a token. A plain SHA-256 suffices:
// the token is 256 random bits, so there is nothing to brute-force.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
