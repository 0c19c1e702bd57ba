// Package entra is the connector for Microsoft Entra ID (Azure AD): it reads
// a tenant's users, groups and direct memberships through Microsoft Graph
// v1.0 (internal/graph) and hands them to dirsync's engine.
//
// A full read lists users with /users ($top=999, the fewest round trips)
// while, at the same time, it walks one groups/delta round with members
// selected, which brings every group with its direct members; see
// Snapshot for why. The same delta walker serves incremental reads
// (Cursor and Changes), and $batch serves single-user lookups.
package entra

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"golang.org/x/sync/errgroup"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/graph"
)

// Options are the connector's runtime dependencies.
type Options struct {
	Logger *slog.Logger
	// Clock tells the time of retry budgets and of the secret's expiry,
	// and waits between retries; the system clock when nil.
	Clock clock.Clock
	// Concurrency is how many reads may run at once: 2 (users and groups
	// together) by default, 1 to read them one after the other.
	Concurrency int
	// Budget is the retry time of one Graph call during a sync (5 minutes
	// by default); Check uses a shorter one.
	Budget time.Duration
}

// checkBudget bounds the retries of each step of a connection test: an
// admin is waiting, and a refused connection is better reported in seconds.
const checkBudget = 10 * time.Second

type conn struct {
	cfg    Config
	cloud  graph.Cloud
	client *graph.Client
	log    *slog.Logger
	clk    clock.Clock
	conc   int
}

var (
	_ connector.Connector    = (*conn)(nil)
	_ connector.Counter      = (*conn)(nil)
	_ connector.Incremental  = (*conn)(nil)
	_ connector.UserLookup   = (*conn)(nil)
	_ connector.GroupParents = (*conn)(nil)
)

// Open returns a connector for the tenant in cfg. secret is the client
// secret's value, or with auth_method "certificate" the PEM certificate and
// its private key. Open contacts nothing; Check does.
func Open(cfg Config, secret []byte, opts Options) (connector.Connector, error) {
	client, cl, err := NewClient(cfg, secret, opts)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 2
	}
	return &conn{cfg: cfg, cloud: cl, client: client, log: logger, clk: clock.Or(opts.Clock), conc: conc}, nil
}

// NewClient returns a Graph client signed in as the app in cfg, with the
// same validation and credential handling as Open: what a writer of the
// tenant (package provision) uses. It contacts nothing.
func NewClient(cfg Config, secret []byte, opts Options) (*graph.Client, graph.Cloud, error) {
	if err := cfg.Validate(); err != nil {
		return nil, graph.Cloud{}, err
	}
	cl, err := cfg.cloud()
	if err != nil {
		return nil, cl, err
	}
	if len(secret) == 0 {
		if cfg.authMethod() == AuthCertificate {
			return nil, cl, invalid("the client certificate is empty: give the PEM certificate and its private key")
		}
		return nil, cl, invalid("the client secret is empty")
	}
	hc, err := graph.NewHTTPClient([]byte(cfg.CAPEM))
	if err != nil {
		return nil, cl, invalid("ca_pem: %v", err)
	}
	cred, err := credentials.get(cfg, cl, secret, func() (azcore.TokenCredential, error) {
		if cfg.authMethod() == AuthCertificate {
			cred, err := graph.NewCertificateCredential(cl, cfg.Tenant, cfg.ClientID, secret, hc)
			if err != nil {
				return nil, invalid("client certificate: %v", err)
			}
			return cred, nil
		}
		// Entra generates secrets without whitespace; a newline left by
		// "echo ... > file" would only turn into a baffling AADSTS7000215.
		cred, err := graph.NewSecretCredential(cl, cfg.Tenant, cfg.ClientID, string(bytes.TrimSpace(secret)), hc)
		if err != nil {
			return nil, invalid("client secret: %v", err)
		}
		return cred, nil
	})
	if err != nil {
		return nil, cl, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	clk := clock.Or(opts.Clock)
	client, err := graph.New(graph.Options{
		Credential: cred,
		GraphURL:   cl.GraphURL,
		Scope:      cl.Scope(),
		HTTPClient: hc,
		Budget:     opts.Budget,
		Clock:      clk,
		Logger:     logger,
		UserAgent:  "dirsync-entra",
	})
	if err != nil {
		return nil, cl, invalid("%v", err)
	}
	return client, cl, nil
}

// Stats returns the Graph requests, throttled answers and retries so far.
func (c *conn) Stats() connector.Stats {
	s := c.client.Stats()
	return connector.Stats{Requests: int(s.Requests), Throttled: int(s.Throttled), Retries: int(s.Retries)}
}

// Check signs in and reads one of each thing a sync reads, each step with
// a short retry budget, and stops at the first failure with a message for
// the administrator.
func (c *conn) Check(ctx context.Context) ([]connector.CheckResult, error) {
	cl := c.client.WithBudget(checkBudget)
	var log connector.CheckLog

	if err := cl.Authenticate(ctx); err != nil {
		return log.Fail("sign in", c.classify(err, "", ""))
	}
	log.Pass("sign in", "application %s signed in to tenant %s (%s cloud)", c.cfg.ClientID, c.cfg.Tenant, c.cloud.Name)

	// The organization's name helps an admin see it is the right tenant,
	// but reading it needs Organization.Read.All, which a sync does not:
	// a 403 here is not a failure.
	orgs, err := cl.Organization(ctx)
	var ge *graph.Error
	switch {
	case err == nil && len(orgs) > 0:
		log.Pass("tenant", "%s (%s)", orgs[0].DisplayName, defaultDomain(orgs[0]))
	case err == nil:
		log.Pass("tenant", "the tenant's organization object is empty")
	case asGraphError(err, &ge) && ge.Status == http.StatusForbidden:
		log.Pass("tenant", "the organization's name is not readable without Organization.Read.All (optional, not needed to sync)")
	default:
		return log.Fail("tenant", c.classify(err, "read the organization", ""))
	}

	n := 0
	err = cl.ListUsers(ctx, graph.Query{Select: []string{"id", "userPrincipalName"}, Top: 1}, func(us []graph.User) error {
		n = len(us)
		return graph.ErrStop
	})
	if err != nil {
		return log.Fail("read users", c.classify(err, "read users", permUsers))
	}
	if n == 0 {
		log.Pass("read users", "users are readable, but the tenant has none")
	} else {
		log.Pass("read users", "users are readable ("+permUsers+")")
	}

	if _, err := cl.LatestDeltaLink(ctx, cl.GroupsDeltaURL(nil, true)); err != nil {
		return log.Fail("read groups", c.classify(err, "read groups and their members", permMembers))
	}
	log.Pass("read groups", "groups and their members are readable ("+permMembers+")")

	if c.cfg.SecretExpires != "" && c.cfg.authMethod() == AuthSecret {
		good, msg := expiryNote(c.cfg.SecretExpires, c.clk.Now())
		log.Add("secret expiry", good, msg)
	}
	return log.Results, nil
}

func defaultDomain(o graph.Organization) string {
	for _, d := range o.VerifiedDomains {
		if d.IsDefault {
			return d.Name
		}
	}
	if len(o.VerifiedDomains) > 0 {
		return o.VerifiedDomains[0].Name
	}
	return o.ID
}

// Snapshot reads every user, group and direct membership of the tenant.
//
// Users come from /users with $top=999: for 100,000 users that is about 100
// sequential requests, where users/delta (which ignores $top and pages by
// about 200) would take 500.
//
// Groups and their direct members come from one groups/delta round with
// $select=...,members, not from /groups plus /groups/{id}/members per
// group. For 5,000 groups the per-group way costs at least 5,001 requests
// at 3 resource units each (15,000 RU, against a budget of 8,000 RU per 10
// seconds for a large tenant, so Graph would throttle it for tens of
// seconds), and $batch would cut the round trips but not the RU, since
// each sub-request is throttled on its own. The delta round brings each
// group with members@delta inline: its request count follows the number of
// groups and memberships divided by the page size, at 1 RU each, and it
// also sees service principals, which /members omits in v1.0. Its one
// complication, a large group split into several entries on different
// pages, is handled by treating every entry as a slice to add.
//
// Users and groups are read concurrently (Options.Concurrency); pages are
// handed to sink as they arrive.
func (c *conn) Snapshot(ctx context.Context, sink connector.Sink) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.conc)
	g.Go(func() error { return c.snapshotUsers(gctx, sink) })
	g.Go(func() error {
		_, err := c.walkGroups(gctx, c.client.GroupsDeltaURL(nil, true), newSnapshotGroups(sink))
		return c.classify(err, "read groups and their members", permMembers)
	})
	return g.Wait()
}

func (c *conn) snapshotUsers(ctx context.Context, sink connector.Sink) error {
	n := 0
	err := c.client.ListUsers(ctx, graph.Query{ReadAhead: true}, func(us []graph.User) error {
		for _, u := range us {
			if u.ID == "" {
				return &connector.Error{Kind: connector.KindProtocol, Message: "Graph returned a user without an id"}
			}
			if u.UserPrincipalName == "" {
				if err := sink.Skip(connector.Skipped{Kind: "user", ExternalID: u.ID, Code: directory.SkipNoUsername, Reason: "user has no userPrincipalName"}); err != nil {
					return err
				}
				continue
			}
			if err := sink.User(sourceUser(u)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return c.classify(err, "read users", permUsers)
	}
	c.log.Info("entra: users read", "users", n)
	return nil
}

// sourceUser maps a Graph user to what dirsync keeps of it.
func sourceUser(u graph.User) directory.SourceUser {
	su := directory.SourceUser{
		ExternalID: u.ID,
		// accountEnabled is always returned when selected; should it ever be
		// missing, reading it as "disabled" would lock people out, so a
		// missing value counts as enabled.
		Enabled: u.AccountEnabled == nil || *u.AccountEnabled,
	}
	su.Username = u.UserPrincipalName
	su.Email = u.Mail
	su.DisplayName = u.DisplayName
	su.GivenName = u.GivenName
	su.Surname = u.Surname
	su.JobTitle = u.JobTitle
	su.Department = u.Department
	su.MobilePhone = u.MobilePhone
	su.BusinessPhones = nonEmpty(u.BusinessPhones)
	su.UserType = u.UserType
	for _, l := range u.AssignedLicenses {
		if l.SkuID != "" {
			su.Licenses = append(su.Licenses, l.SkuID)
		}
	}
	su.ProxyAddresses = nonEmpty(u.ProxyAddresses)
	su.ImmutableID = u.OnPremisesImmutableID
	return su
}

// sourceGroup maps a Graph group to what dirsync keeps of it.
func sourceGroup(g graph.Group) directory.SourceGroup {
	sg := directory.SourceGroup{ExternalID: g.ID}
	sg.Name = g.DisplayName
	sg.Description = g.Description
	sg.Mail = g.Mail
	sg.GroupTypes = nonEmpty(g.GroupTypes)
	sg.SecurityEnabled = g.SecurityEnabled
	sg.MailEnabled = g.MailEnabled
	return sg
}

func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

func asGraphError(err error, ge **graph.Error) bool { return errors.As(err, ge) }
