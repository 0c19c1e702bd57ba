package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// Source reads a source by id or name; it returns its ETag too.
func (c *Client) Source(ctx context.Context, id string) (api.SourceView, string, error) {
	var v api.SourceView
	h, err := c.Call(ctx, Request{Op: OpGetSource, Params: []string{id}}, &v)
	return v, h.Get("ETag"), err
}

// Sources lists the account's sources.
func (c *Client) Sources(ctx context.Context) ([]api.SourceView, error) {
	var out struct{ Sources []api.SourceView }
	_, err := c.Call(ctx, Request{Op: OpListSources}, &out)
	return out.Sources, err
}

// CreateSource adds a source: a body as POST /sources documents it.
func (c *Client) CreateSource(ctx context.Context, body map[string]any) (api.SourceView, error) {
	var v api.SourceView
	_, err := c.Call(ctx, Request{Op: OpCreateSource, Body: body}, &v)
	return v, err
}

// UpdateSource changes a source; with an ETag, only if the source is
// still at it (a 412 otherwise).
func (c *Client) UpdateSource(ctx context.Context, id, etag string, body map[string]any) (api.SourceView, error) {
	var v api.SourceView
	_, err := c.Call(ctx, Request{Op: OpUpdateSource, Params: []string{id}, Body: body, Header: ifMatch(etag)}, &v)
	return v, err
}

// DeleteSource removes a source; with an ETag, only if it is still at it.
func (c *Client) DeleteSource(ctx context.Context, id, etag string) error {
	_, err := c.Call(ctx, Request{Op: OpDeleteSource, Params: []string{id}, Header: ifMatch(etag)}, nil)
	return err
}

func ifMatch(etag string) http.Header {
	if etag == "" {
		return nil
	}
	return http.Header{"If-Match": {etag}}
}

// Sync asks for a run of the source (mode delta, full or dry_run; ""
// for delta) and returns it, queued.
func (c *Client) Sync(ctx context.Context, id, mode string) (directory.Run, error) {
	var run directory.Run
	body := map[string]any{}
	if mode != "" {
		body["mode"] = mode
	}
	_, err := c.Call(ctx, Request{Op: OpSync, Params: []string{id}, Body: body}, &run)
	return run, err
}

// Run reads a run.
func (c *Client) Run(ctx context.Context, id string) (directory.Run, error) {
	var run directory.Run
	_, err := c.Call(ctx, Request{Op: OpGetRun, Params: []string{id}}, &run)
	return run, err
}

// Runs lists runs newest first, of one source when source is not "".
func (c *Client) Runs(ctx context.Context, source string) iter.Seq2[directory.Run, error] {
	q := url.Values{}
	if source != "" {
		q.Set("source", source)
	}
	return List[directory.Run](ctx, c, Request{Op: OpListRuns, Query: q}, "runs")
}

// Changes lists a run's changes in order.
func (c *Client) Changes(ctx context.Context, runID string) iter.Seq2[directory.Change, error] {
	return List[directory.Change](ctx, c, Request{Op: OpListChanges, Params: []string{runID}}, "changes")
}

// UserFilter filters a user listing; zero fields do not filter.
type UserFilter struct {
	State, Source, Search, Group, Tag, EmailDomain, UpdatedSince string
	Limit                                                        int
}

func (f UserFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "source": f.Source, "search": f.Search, "group": f.Group,
		"tag": f.Tag, "email_domain": f.EmailDomain, "updated_since": f.UpdatedSince} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	return q
}

// Users lists users by username, every page.
func (c *Client) Users(ctx context.Context, f UserFilter) iter.Seq2[directory.User, error] {
	return List[directory.User](ctx, c, Request{Op: OpListUsers, Query: f.query()}, "users")
}

// User reads a user by id, username or email; it returns its ETag too.
func (c *Client) User(ctx context.Context, key string) (directory.User, string, error) {
	var u directory.User
	h, err := c.Call(ctx, Request{Op: OpGetUser, Params: []string{key}}, &u)
	return u, h.Get("ETag"), err
}

// UpdateUser changes a user's tags, notes (and a local user's own
// attributes); with an ETag, only if the user is still at it.
func (c *Client) UpdateUser(ctx context.Context, id, etag string, patch map[string]any) (directory.User, string, error) {
	var u directory.User
	h, err := c.Call(ctx, Request{Op: OpUpdateUser, Params: []string{id}, Body: patch, Header: ifMatch(etag)}, &u)
	return u, h.Get("ETag"), err
}

// UserGroups lists the groups a user is in: direct, or transitive.
func (c *Client) UserGroups(ctx context.Context, id string, transitive bool) iter.Seq2[directory.Group, error] {
	q := url.Values{"transitive": {fmt.Sprint(transitive)}}
	return List[directory.Group](ctx, c, Request{Op: OpListUserGroups, Params: []string{id}, Query: q}, "groups")
}

// Groups lists groups by name; name, when not "", lists that name only.
func (c *Client) Groups(ctx context.Context, source, name string) iter.Seq2[directory.Group, error] {
	q := url.Values{}
	if source != "" {
		q.Set("source", source)
	}
	if name != "" {
		q.Set("name", name)
	}
	return List[directory.Group](ctx, c, Request{Op: OpListGroups, Query: q}, "groups")
}

// Group reads a group by id or name.
func (c *Client) Group(ctx context.Context, key string) (directory.Group, error) {
	var g directory.Group
	_, err := c.Call(ctx, Request{Op: OpGetGroup, Params: []string{key}}, &g)
	return g, err
}

// Members lists a group's members: direct, or effective.
func (c *Client) Members(ctx context.Context, id string, effective bool) iter.Seq2[directory.Member, error] {
	q := url.Values{"effective": {fmt.Sprint(effective)}}
	return List[directory.Member](ctx, c, Request{Op: OpListMembers, Params: []string{id}, Query: q}, "members")
}

// Events is a page of the change feed.
type Events struct {
	Events []directory.Event `json:"events"`
	Cursor string            `json:"cursor"`
	// Next is set while more events wait; Poll once caught up.
	Next string `json:"next"`
	Poll string `json:"poll"`
}

// ErrCursorExpired is the feed's answer to a cursor older than the event
// retention, or one it never gave: resynchronize from the export.
var ErrCursorExpired = errors.New("dirsync: the events cursor expired: resynchronize from the export")

// EventsAfter reads the page of the feed after a cursor ("" for the
// oldest event kept).
func (c *Client) EventsAfter(ctx context.Context, cursor string, limit int) (Events, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("after", cursor)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var page Events
	_, err := c.Call(ctx, Request{Op: OpEvents, Query: q}, &page)
	if StatusOf(err) == http.StatusGone {
		return page, fmt.Errorf("%w (%v)", ErrCursorExpired, err)
	}
	return page, err
}

// Export streams the directory at one snapshot to fn, a line at a time,
// and returns the events cursor of the snapshot. An export cut short is
// an error.
func (c *Client) Export(ctx context.Context, fn func(manage.ExportItem) error) (string, error) {
	resp, err := c.Do(ctx, Request{Op: OpExport})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var it manage.ExportItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return "", fmt.Errorf("dirsync: export: %w", err)
		}
		if it.Type == manage.ExportTypeEnd && it.End != nil {
			return it.End.Cursor, nil
		}
		if err := fn(it); err != nil {
			return "", err
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("dirsync: export: %w", err)
	}
	return "", errors.New("dirsync: export cut short (no end line): start again")
}

// Webhooks lists the subscriptions.
func (c *Client) Webhooks(ctx context.Context) ([]api.WebhookView, error) {
	var out struct{ Webhooks []api.WebhookView }
	_, err := c.Call(ctx, Request{Op: OpListWebhooks}, &out)
	return out.Webhooks, err
}

// CreateWebhook subscribes url to the event types (none: every type); the
// answer holds the signing secret, shown this once.
func (c *Client) CreateWebhook(ctx context.Context, target string, types []string) (api.WebhookView, error) {
	body := map[string]any{"url": target}
	if types != nil {
		body["event_types"] = types
	}
	var v api.WebhookView
	_, err := c.Call(ctx, Request{Op: OpCreateWebhook, Body: body}, &v)
	return v, err
}

// DeleteWebhook removes a subscription.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.Call(ctx, Request{Op: OpDeleteWebhook, Params: []string{id}}, nil)
	return err
}

// Deliveries lists a subscription's delivery attempts, newest first.
func (c *Client) Deliveries(ctx context.Context, id string) iter.Seq2[manage.Delivery, error] {
	return List[manage.Delivery](ctx, c, Request{Op: OpListDeliveries, Params: []string{id}}, "deliveries")
}

// Account reads the token's account.
func (c *Client) Account(ctx context.Context) (directory.Account, error) {
	var a directory.Account
	_, err := c.Call(ctx, Request{Op: OpGetAccount}, &a)
	return a, err
}
