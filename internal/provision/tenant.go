package provision

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/graph"
)

// Permissions a target's app needs (application permissions with admin
// consent); Directory.ReadWrite.All grants both.
const (
	PermUsers     = "User.ReadWrite.All"
	PermGroups    = "Group.ReadWrite.All"
	PermDirectory = "Directory.ReadWrite.All"
	PermDomains   = "Domain.Read.All"
)

// Tenant is a connection to the Entra ID tenant a target writes.
type Tenant struct {
	cfg    entra.Config
	client *graph.Client
}

// Options are a Tenant's runtime dependencies.
type Options struct {
	// Clock is the time of retries and the write budget; the system clock when nil.
	Clock clock.Clock
	// Budget bounds the retries of one Graph call (5 minutes when zero).
	Budget time.Duration
}

// Open returns a connection to the tenant in cfg, signed in as the app
// whose secret (or certificate and key) is given. It contacts nothing.
func Open(cfg entra.Config, secret []byte, o Options) (*Tenant, error) {
	client, _, err := entra.NewClient(cfg, secret, entra.Options{Clock: o.Clock, Budget: o.Budget})
	if err != nil {
		return nil, err
	}
	return &Tenant{cfg: cfg, client: client}, nil
}

// Stats are the Graph requests, throttled answers and retries so far.
func (t *Tenant) Stats() graph.Stats { return t.client.Stats() }

// explain turns a Graph failure into a message for the administrator.
func (t *Tenant) explain(err error, doing, perm string) error {
	return entra.Explain(t.cfg, err, doing, perm)
}

// checkBudget bounds each step of a connection test.
const checkBudget = 10 * time.Second

// Check signs in, says which of the permissions an export needs the app
// lacks, reads a user, and reads the verified domains (optional). It stops
// at the first failure with a message for the administrator.
func (t *Tenant) Check(ctx context.Context) ([]connector.CheckResult, error) {
	cl := t.client.WithBudget(checkBudget)
	var log connector.CheckLog
	if err := cl.Authenticate(ctx); err != nil {
		return log.Fail("sign in", t.explain(err, "", ""))
	}
	log.Pass("sign in", "application %s signed in to tenant %s", t.cfg.ClientID, t.cfg.Tenant)

	roles, err := cl.Roles(ctx)
	if err != nil {
		return log.Fail("permissions", t.explain(err, "read the app's permissions", ""))
	}
	if missing := MissingPermissions(roles); len(missing) > 0 {
		return log.Fail("permissions", &connector.Error{Kind: connector.KindPermission, Message: fmt.Sprintf(
			"the app lacks %s: add %s (application permissions of Microsoft Graph) in the app registration's API permissions and grant admin consent",
			strings.Join(missing, " and "), pick(len(missing) == 1, "it", "them"))})
	}
	log.Pass("permissions", "the app may write users and groups (%s)", strings.Join(grantedOf(roles), ", "))

	err = cl.ListUsers(ctx, graph.Query{Select: []string{"id"}, Top: 1}, func([]graph.User) error { return graph.ErrStop })
	if err != nil {
		return log.Fail("read users", t.explain(err, "read users", PermUsers))
	}
	log.Pass("read users", "users are readable")

	doms, err := t.domains(ctx, cl)
	var ge *graph.Error
	switch {
	case err == nil:
		log.Pass("domains", "verified domains: %s; UPNs with another suffix go to %s", strings.Join(doms.verified, ", "), doms.initial)
	case errors.As(err, &ge) && ge.Status == http.StatusForbidden:
		log.Pass("domains", "the verified domains are not readable without "+PermDomains+" (optional): a UPN whose suffix the tenant has not verified becomes a sync error instead of moving to the .onmicrosoft.com domain")
	default:
		return log.Fail("domains", t.explain(err, "read the domains", PermDomains))
	}
	return log.Results, nil
}

// MissingPermissions lists the permissions an export needs that roles
// (an access token's) do not grant.
func MissingPermissions(roles []string) []string {
	has := func(p string) bool { return slices.Contains(roles, p) || slices.Contains(roles, PermDirectory) }
	var out []string
	for _, p := range []string{PermUsers, PermGroups} {
		if !has(p) {
			out = append(out, p)
		}
	}
	return out
}

func grantedOf(roles []string) []string {
	var out []string
	for _, r := range roles {
		if r == PermUsers || r == PermGroups || r == PermDirectory || r == PermDomains {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// domainSet is what the tenant says of its domains.
type domainSet struct {
	verified []string
	initial  string // the .onmicrosoft.com domain
}

func (t *Tenant) domains(ctx context.Context, cl *graph.Client) (domainSet, error) {
	ds, err := cl.Domains(ctx)
	if err != nil {
		return domainSet{}, err
	}
	var out domainSet
	for _, d := range ds {
		if d.IsVerified {
			out.verified = append(out.verified, d.ID)
		}
		if d.IsInitial {
			out.initial = d.ID
		}
	}
	slices.Sort(out.verified)
	return out, nil
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
