package manage

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// One domain, one source: a directory's people belong to one account, and
// within it to one source (Sophos Central's rule). Two sources of one
// account would fight over the same people; across accounts, one
// organization's people would belong to two customers.
//
// A source claims its domain once it has synced it: a source that never
// worked (a typo being corrected) holds nobody. The claim is checked when a
// source is added or its settings change, and again before every sync, so
// adding two sources before the first sync does not dodge it.

// domainClaim is the directory a source reads, in a form two sources can be
// compared by: an Entra tenant's domain or id, an AD domain from its base DN
// (DC=corp,DC=example,DC=com is corp.example.com). "" when unknown.
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

// checkClaim refuses src when another source that has synced reads the
// same domain.
func (m *Manager) checkClaim(ctx context.Context, rd store.Reader, src directory.Source) error {
	claim := domainClaim(src.Kind, src.Config)
	if claim == "" {
		return nil
	}
	accounts, err := rd.Accounts(ctx)
	if err != nil {
		return err
	}
	for _, acc := range accounts {
		others, err := rd.Sources(ctx, acc.ID)
		if err != nil {
			return err
		}
		for _, other := range others {
			if other.ID == src.ID || domainClaim(other.Kind, other.Config) != claim {
				continue
			}
			if synced, err := hasSynced(ctx, rd, acc.ID, other.ID); err != nil {
				return err
			} else if !synced {
				continue
			}
			if acc.ID == src.AccountID {
				return conflict(CodeDomainClaimed, "account %s already syncs %s through source %s (%s): two sources of one account cannot sync the same domain", acc.Name, claim, other.Name, other.Kind)
			}
			return conflict(CodeDomainClaimed, "%s is already a source of another account in this deployment: a directory's people belong to one account", claim)
		}
	}
	return nil
}

func hasSynced(ctx context.Context, rd store.Reader, accountID, sourceID string) (bool, error) {
	runs, err := rd.Runs(ctx, accountID, sourceID, 0)
	if err != nil {
		return false, err
	}
	for _, r := range runs {
		if r.Outcome == directory.OutcomeSucceeded && !r.DryRun {
			return true, nil
		}
	}
	return false, nil
}
