package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

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

// checkClaim refuses a source whose domain another source already syncs
// (has synced at least once):
// in the same account two sources would fight over the same people, and
// across accounts one organization's people would belong to two customers
// (Sophos: one domain, one source; users unique to one account).
func (a *app) checkClaim(ctx context.Context, st store.Store, acc directory.Account, kind directory.SourceKind, config []byte) error {
	claim := domainClaim(kind, config)
	if claim == "" {
		return nil
	}
	accounts, err := st.Accounts(ctx)
	if err != nil {
		return err
	}
	for _, other := range accounts {
		srcs, err := st.Sources(ctx, other.ID)
		if err != nil {
			return err
		}
		for _, s := range srcs {
			if domainClaim(s.Kind, s.Config) != claim {
				continue
			}
			// A source claims its domain once it has synced it: a source
			// that never worked (a typo being corrected) holds nobody.
			if synced, err := hasSynced(ctx, st, other.ID, s.ID); err != nil {
				return err
			} else if !synced {
				continue
			}
			if other.ID == acc.ID {
				return &exitError{ExitConflict, usageErr("account %s already syncs %s through source %s (%s): two sources of one account cannot sync the same domain", acc.Name, claim, s.Name, s.Kind).(*exitError).err}
			}
			return &exitError{ExitConflict, usageErr("%s is already a source of another account in this deployment: a directory's people belong to one account", claim).(*exitError).err}
		}
	}
	return nil
}

func hasSynced(ctx context.Context, st store.Store, accountID, sourceID string) (bool, error) {
	runs, err := st.Runs(ctx, accountID, sourceID, 0)
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
