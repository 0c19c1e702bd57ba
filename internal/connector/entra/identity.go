package entra

import (
	"context"
	"net/http"
	"strings"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/graph"
)

var _ connector.Identifier = (*conn)(nil)

// Identity names the tenant the source reads by its id, with its verified
// domains: a tenant named in the settings by a domain and the same tenant
// named by its id are one tenant. The organization object gives both; a
// credential without Organization.Read.All (which a sync does not need)
// still has the tenant id in its access token.
func (c *conn) Identity(ctx context.Context) (connector.Identity, error) {
	cl := c.client.WithBudget(checkBudget)
	orgs, err := cl.Organization(ctx)
	var ge *graph.Error
	switch {
	case err == nil && len(orgs) == 1 && orgs[0].ID != "":
		id := strings.ToLower(orgs[0].ID)
		names := []string{id}
		for _, d := range orgs[0].VerifiedDomains {
			names = append(names, strings.ToLower(d.Name))
		}
		return connector.Identity{Key: "entra:" + id, Names: names}, nil
	case err != nil && !(asGraphError(err, &ge) && ge.Status == http.StatusForbidden):
		return connector.Identity{}, c.classify(err, "read the organization", "")
	}
	tid, err := cl.TokenTenant(ctx)
	if err != nil {
		return connector.Identity{}, c.classify(err, "sign in", "")
	}
	tid = strings.ToLower(tid)
	names := []string{tid}
	if t := strings.ToLower(c.cfg.Tenant); t != tid {
		names = append(names, t) // the domain the settings name, which signed in to tid
	}
	return connector.Identity{Key: "entra:" + tid, Names: names}, nil
}
