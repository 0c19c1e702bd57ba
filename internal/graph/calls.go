package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
)

// UserSelect are the user properties dirsync reads.
var UserSelect = []string{
	"id", "userPrincipalName", "mail", "displayName", "givenName", "surname",
	"accountEnabled", "jobTitle", "department", "mobilePhone", "businessPhones",
	"userType", "assignedLicenses", "proxyAddresses", "onPremisesImmutableId",
}

// GroupSelect are the group properties dirsync reads.
var GroupSelect = []string{
	"id", "displayName", "description", "mail", "groupTypes", "securityEnabled", "mailEnabled",
}

// MemberSelect are the properties read of a member: enough to know what it is.
var MemberSelect = []string{"id", "displayName", "userPrincipalName", "mail"}

// ListUsers pages through /users. An empty q.Select reads UserSelect and a
// zero q.Top reads 999 per page, Graph's maximum, for the fewest round trips.
func (c *Client) ListUsers(ctx context.Context, q Query, fn func([]User) error) error {
	if len(q.Select) == 0 {
		q.Select = UserSelect
	}
	if q.Top == 0 {
		q.Top = 999
	}
	if _, err := walk(ctx, c, c.url("/users", q), q.header(), q.ReadAhead, fn); err != nil {
		return fmt.Errorf("graph: list users: %w", err)
	}
	return nil
}

// ListGroups pages through /groups, GroupSelect and 999 per page by default.
func (c *Client) ListGroups(ctx context.Context, q Query, fn func([]Group) error) error {
	if len(q.Select) == 0 {
		q.Select = GroupSelect
	}
	if q.Top == 0 {
		q.Top = 999
	}
	if _, err := walk(ctx, c, c.url("/groups", q), q.header(), q.ReadAhead, fn); err != nil {
		return fmt.Errorf("graph: list groups: %w", err)
	}
	return nil
}

// ListMembers pages through a group's direct members. Each member keeps
// its @odata.type; see DirectoryObject.Kind.
func (c *Client) ListMembers(ctx context.Context, groupID string, q Query, fn func([]DirectoryObject) error) error {
	if q.Top == 0 {
		q.Top = 999
	}
	if _, err := walk(ctx, c, c.url("/groups/"+url.PathEscape(groupID)+"/members", q), q.header(), q.ReadAhead, fn); err != nil {
		return fmt.Errorf("graph: list members of group %s: %w", groupID, err)
	}
	return nil
}

// ListMemberOf pages through the groups (and directory roles, and
// administrative units) a user is a direct member of.
func (c *Client) ListMemberOf(ctx context.Context, user string, q Query, fn func([]DirectoryObject) error) error {
	if q.Top == 0 {
		q.Top = 999
	}
	if _, err := walk(ctx, c, c.url(UserPath(user)+"/memberOf", q), q.header(), q.ReadAhead, fn); err != nil {
		return fmt.Errorf("graph: list memberOf of user %s: %w", user, err)
	}
	return nil
}

// UserPath is the path of one user by object id or userPrincipalName,
// relative to the versioned root: guest UPNs hold '#', which must be escaped,
// and a UPN starting with '$' must be written as users('...').
func UserPath(idOrUPN string) string {
	if strings.HasPrefix(idOrUPN, "$") {
		return "/users('" + url.PathEscape(strings.ReplaceAll(idOrUPN, "'", "''")) + "')"
	}
	return "/users/" + url.PathEscape(idOrUPN)
}

// GetUser reads one user by object id or userPrincipalName; UserSelect
// when sel is empty.
func (c *Client) GetUser(ctx context.Context, idOrUPN string, sel []string) (User, error) {
	if len(sel) == 0 {
		sel = UserSelect
	}
	var u User
	if err := c.getJSON(ctx, c.url(UserPath(idOrUPN), Query{Select: sel}), nil, &u); err != nil {
		return User{}, fmt.Errorf("graph: get user %s: %w", idOrUPN, err)
	}
	return u, nil
}

// Organization reads the tenant's organization object(s).
func (c *Client) Organization(ctx context.Context) ([]Organization, error) {
	var p pageOf[Organization]
	if err := c.getJSON(ctx, c.url("/organization", Query{Select: []string{"id", "displayName", "verifiedDomains"}}), nil, &p); err != nil {
		return nil, fmt.Errorf("graph: get organization: %w", err)
	}
	return p.Value, nil
}

// Domains lists the tenant's domains.
func (c *Client) Domains(ctx context.Context) ([]Domain, error) {
	var out []Domain
	if _, err := walk(ctx, c, c.url("/domains", Query{}), nil, false, func(ds []Domain) error {
		out = append(out, ds...)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("graph: list domains: %w", err)
	}
	return out, nil
}

// DeltaOptions change how a delta round is read.
type DeltaOptions struct {
	// Minimal asks (Prefer: return=minimal) for only the changed properties
	// of changed objects, instead of every selected property.
	Minimal bool
	// NoReadAhead waits for the callback before requesting the next page:
	// for a callback that may return ErrStop. A round otherwise reads ahead
	// (see walk).
	NoReadAhead bool
}

func (o DeltaOptions) header() http.Header {
	if !o.Minimal {
		return nil
	}
	h := http.Header{}
	h.Set("Prefer", "return=minimal")
	return h
}

// UsersDeltaURL is the URL that starts a users/delta round from scratch;
// sel (UserSelect when empty) is encoded by Graph into every later link.
func (c *Client) UsersDeltaURL(sel []string) string {
	if len(sel) == 0 {
		sel = UserSelect
	}
	return c.url("/users/delta", Query{Select: sel})
}

// GroupsDeltaURL is the URL that starts a groups/delta round from scratch.
// With members, members@delta comes on each group entry.
func (c *Client) GroupsDeltaURL(sel []string, members bool) string {
	if len(sel) == 0 {
		sel = GroupSelect
	}
	if members {
		sel = append(append([]string(nil), sel...), "members")
	}
	return c.url("/groups/delta", Query{Select: sel})
}

// DeltaUsers walks one users/delta round from link (a URL from UsersDeltaURL,
// or a deltaLink saved from the previous round) to its end, handing each
// page to fn, and returns the round's new deltaLink. The same user may come
// more than once in a round; the later entry wins.
func (c *Client) DeltaUsers(ctx context.Context, link string, o DeltaOptions, fn func([]User) error) (string, error) {
	dl, err := walkDelta(ctx, c, link, o, fn)
	if err != nil {
		return "", fmt.Errorf("graph: users delta: %w", err)
	}
	return dl, nil
}

// DeltaGroups walks one groups/delta round; see DeltaUsers. A group with
// many members arrives in several entries, on any page, each with a slice
// of members@delta: merge them, never replace.
func (c *Client) DeltaGroups(ctx context.Context, link string, o DeltaOptions, fn func([]Group) error) (string, error) {
	dl, err := walkDelta(ctx, c, link, o, fn)
	if err != nil {
		return "", fmt.Errorf("graph: groups delta: %w", err)
	}
	return dl, nil
}

// WalkDelta walks one delta round of any resource; see DeltaUsers.
func WalkDelta[T any](ctx context.Context, c *Client, link string, o DeltaOptions, fn func([]T) error) (string, error) {
	return walkDelta(ctx, c, link, o, fn)
}

func walkDelta[T any](ctx context.Context, c *Client, link string, o DeltaOptions, fn func([]T) error) (string, error) {
	stopped := false
	dl, err := walk(ctx, c, link, o.header(), !o.NoReadAhead, func(v []T) error {
		err := fn(v)
		if errors.Is(err, ErrStop) {
			stopped = true
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if dl == "" && !stopped {
		// A round that ends without a deltaLink cannot be resumed from.
		return "", fmt.Errorf("graph: %s: the last page had neither nextLink nor deltaLink", pathOf(link))
	}
	return dl, nil
}

// LatestDeltaLink returns a deltaLink that starts tracking from now
// ($deltatoken=latest): no objects, only the link. deltaURL is a URL from
// UsersDeltaURL or GroupsDeltaURL, whose $select the link keeps.
func (c *Client) LatestDeltaLink(ctx context.Context, deltaURL string) (string, error) {
	sep := "?"
	if strings.Contains(deltaURL, "?") {
		sep = "&"
	}
	dl, err := walkDelta(ctx, c, deltaURL+sep+"$deltatoken=latest", DeltaOptions{}, func([]struct{}) error { return nil })
	if err != nil {
		return "", fmt.Errorf("graph: latest delta link: %w", err)
	}
	return dl, nil
}

// Walk pages through any collection from link (such as a nextLink found in
// a $batch answer), handing each page to fn; see ListUsers.
func Walk[T any](ctx context.Context, c *Client, link string, fn func([]T) error) error {
	_, err := walk(ctx, c, link, nil, false, fn)
	return err
}

// Authenticate gets an access token, with the retries of any call, to
// check the credential without reading anything.
func (c *Client) Authenticate(ctx context.Context) error {
	deadline := c.clk.Now().Add(c.budget)
	for attempt := 0; ; attempt++ {
		err := c.boundedToken(ctx, deadline)
		if err == nil {
			return nil
		}
		var te *TimeoutError
		if errors.As(err, &te) {
			if wait := c.backoff(attempt); attempt+1 < c.maxAttempts && c.clk.Now().Add(wait).Before(deadline) {
				c.stats.retries.Add(1)
				if err := clock.Sleep(ctx, c.clk, wait); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%w after %d attempts: %w", ErrRetryBudget, attempt+1, err)
		}
		var ae *AuthError
		if !errors.As(err, &ae) || !ae.transient() {
			return err
		}
		wait := c.backoff(attempt)
		if attempt+1 >= c.maxAttempts || c.clk.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%w after %d attempts: %w", ErrRetryBudget, attempt+1, err)
		}
		c.stats.retries.Add(1)
		if err := clock.Sleep(ctx, c.clk, wait); err != nil {
			return err
		}
	}
}

// boundedToken gets a token within RequestTimeout and the deadline.
func (c *Client) boundedToken(ctx context.Context, deadline time.Time) error {
	limit := min(c.reqTimeout, deadline.Sub(c.clk.Now()))
	if limit <= 0 {
		return &TimeoutError{Phase: "the retry budget was spent"}
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := c.clk.AfterFunc(limit, func() { cancel(errAttemptTimeout) })
	defer timer.Stop()
	_, err := c.token(actx, "")
	if err != nil && context.Cause(actx) == errAttemptTimeout && ctx.Err() == nil {
		return &TimeoutError{After: limit, Phase: "getting an access token"}
	}
	return err
}

// tokenClaims decodes the claims of the client's access token into v. The
// token is not verified here (Graph does that): it came over TLS from the
// cloud's authority, as Microsoft issued it.
func (c *Client) tokenClaims(ctx context.Context, v any) error {
	tok, err := c.token(ctx, "")
	if err != nil {
		return err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errors.New("graph: the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return fmt.Errorf("graph: access token payload: %w", err)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("graph: access token claims: %w", err)
	}
	return nil
}

// TokenTenant is the id of the tenant that issued the client's access
// token (its tid claim): the tenant the credential signs in to, whether
// the settings named it by id or by a domain. For when /organization is
// not readable.
func (c *Client) TokenTenant(ctx context.Context) (string, error) {
	var claims struct {
		Tid string `json:"tid"`
	}
	if err := c.tokenClaims(ctx, &claims); err != nil {
		return "", err
	}
	if claims.Tid == "" {
		return "", errors.New("graph: the access token names no tenant (tid)")
	}
	return claims.Tid, nil
}

// Roles returns the application permissions the client's access token
// carries (its roles claim), such as User.ReadWrite.All: what the tenant's
// administrator consented to for the app. It is read from the token as
// Microsoft issued it, for telling an administrator which permission is
// missing; Graph still decides what each call may do. Call Authenticate
// first: a failure to get a token is returned as it is.
func (c *Client) Roles(ctx context.Context) ([]string, error) {
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := c.tokenClaims(ctx, &claims); err != nil {
		return nil, err
	}
	return claims.Roles, nil
}
