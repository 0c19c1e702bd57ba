package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// One domain, one source: a directory's people belong to one account, and
// within it to one source (Sophos Central's rule). Two sources of one
// account would fight over the same people; across accounts, one
// organization's people would belong to two customers.
//
// A source claims the directory it reads by identity, not by how its
// settings name it: an Entra tenant by its id (a tenant named by a domain
// and by its id is one tenant), an AD domain by its objectSid (connector
// Identifier). The claim is a row whose key is unique in the deployment
// (store.DomainClaim), taken when a connection test passes and in the
// apply transaction of every sync, so two sources added before either
// synced cannot both land a run: the second apply finds the key held and
// fails, applying nothing. A source whose settings name a directory that
// another source holds (by any of its names) is refused before it
// connects: when added, when its settings change, before a sync. A
// removed source's claim goes with it; a source whose settings change
// where it reads releases its claim until it claims again.

// domainClaim is what a source's settings call the directory it reads, in
// the form claims keep their names: an Entra tenant's domain or id, an AD
// domain from its base DN (DC=corp,DC=example,DC=com is corp.example.com).
// "" when unknown.
func domainClaim(kind directory.SourceKind, config []byte) string {
	var c struct {
		Tenant string `json:"tenant"`
		BaseDN string `json:"base_dn"`
	}
	if json.Unmarshal(config, &c) != nil {
		return ""
	}
	switch kind {
	case directory.KindEntra:
		return strings.ToLower(strings.TrimSpace(c.Tenant))
	case directory.KindLDAP:
		var dcs []string
		for _, rdn := range strings.Split(c.BaseDN, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(rdn), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "dc") {
				dcs = append(dcs, strings.ToLower(strings.TrimSpace(v)))
			}
		}
		return strings.Join(dcs, ".")
	}
	return ""
}

// checkClaim refuses src when its settings name a directory that another
// source holds, by any of the directory's names. It contacts nothing: the
// claim itself is taken by identity (takeClaim).
func (m *Manager) checkClaim(ctx context.Context, rd store.Reader, src directory.Source) error {
	name := domainClaim(src.Kind, src.Config)
	if name == "" {
		return nil
	}
	claims, err := rd.DomainClaims(ctx)
	if err != nil {
		return err
	}
	for _, c := range claims {
		if c.SourceID != src.ID && slices.Contains(c.Names, name) {
			return claimedError(ctx, rd, src, c, name)
		}
	}
	return nil
}

// claimedError says that c, held by another source, refuses src. It names
// the other source only to its own account: to another account it says
// only that the directory is taken.
func claimedError(ctx context.Context, rd store.Reader, src directory.Source, c store.DomainClaim, name string) *Error {
	if c.AccountID == src.AccountID {
		acc, aerr := rd.Account(ctx, c.AccountID)
		other, serr := rd.Source(ctx, c.AccountID, c.SourceID)
		if aerr == nil && serr == nil {
			return conflict(CodeDomainClaimed, "account %s already syncs %s through source %s (%s): two sources of one account cannot sync the same domain", acc.Name, name, other.Name, other.Kind)
		}
	}
	return conflict(CodeDomainClaimed, "%s is already a source of another account in this deployment: a directory's people belong to one account", name)
}

// identify asks the source which directory it reads. A connector that
// cannot tell is identified by what its settings call the directory; ""
// Key when even that is unknown (nothing to claim).
func identify(ctx context.Context, src directory.Source, conn connector.Connector) (connector.Identity, error) {
	if idr, ok := conn.(connector.Identifier); ok {
		id, err := idr.Identity(ctx)
		if err != nil {
			return id, err
		}
		if name := domainClaim(src.Kind, src.Config); name != "" && !slices.Contains(id.Names, name) {
			id.Names = append(id.Names, name)
		}
		return id, nil
	}
	name := domainClaim(src.Kind, src.Config)
	if name == "" {
		return connector.Identity{}, nil
	}
	return connector.Identity{Key: string(src.Kind) + ":" + name, Names: []string{name}}, nil
}

// takeClaim makes src the holder of the directory id in tx, or refuses it
// when another source holds it.
func (m *Manager) takeClaim(ctx context.Context, tx store.Tx, src directory.Source, id connector.Identity) error {
	if id.Key == "" {
		return nil
	}
	err := tx.SetDomainClaim(ctx, store.DomainClaim{Key: id.Key, AccountID: src.AccountID, SourceID: src.ID, Names: id.Names, ClaimedAt: m.now()})
	if !errors.Is(err, store.ErrAlreadyExists) {
		return err
	}
	claims, cerr := tx.DomainClaims(ctx)
	if cerr != nil {
		return errors.Join(err, cerr)
	}
	for _, c := range claims {
		if c.Key == id.Key {
			return claimedError(ctx, tx, src, c, displayName(src, id)).with(err)
		}
	}
	return err
}

// displayName is how a refusal names a directory: as the source's
// settings do, or by its identity.
func displayName(src directory.Source, id connector.Identity) string {
	if name := domainClaim(src.Kind, src.Config); name != "" {
		return name
	}
	return id.Key
}

// heldClaim is src's claim, if it holds one.
func heldClaim(ctx context.Context, rd store.Reader, sourceID string) (*store.DomainClaim, error) {
	claims, err := rd.DomainClaims(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		if c.SourceID == sourceID {
			return &c, nil
		}
	}
	return nil, nil
}

// runClaim is the claim a run of src takes in its apply transaction: the
// one src holds, kept (no request to the source), or else the directory
// the source says it reads, asked once the run is recorded (so that a
// source that cannot be reached fails a recorded run).
type runClaim struct {
	m    *Manager
	src  directory.Source
	conn connector.Connector
	id   connector.Identity
}

func (c *runClaim) prepare(ctx context.Context) error {
	held, err := heldClaim(ctx, c.m.d.Store, c.src.ID)
	switch {
	case err != nil:
		return err
	case held != nil:
		c.id = connector.Identity{Key: held.Key, Names: held.Names}
		return nil
	}
	c.id, err = identify(ctx, c.src, c.conn)
	if err != nil {
		return fmt.Errorf("read which directory the source reads: %w", err)
	}
	return nil
}

func (c *runClaim) take(ctx context.Context, tx store.Tx) error {
	return c.m.takeClaim(ctx, tx, c.src, c.id)
}
