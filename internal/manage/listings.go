package manage

import (
	"context"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
)

// The short listings (an account's sources, targets, webhooks and tokens,
// the deployment's accounts, a target's errors) page like every other
// listing (paging.go), so a client pages every listing alike. They are
// short enough to be read whole and cut here, by a key that orders them
// as they always were.

// PageQuery pages a listing.
type PageQuery struct {
	After string // the Next of the previous page
	Limit int    // 0 means DefaultLimit
}

// Listings of this file, as their cursors name them.
const (
	listSources      = "sources"
	listTargets      = "targets"
	listWebhooks     = "webhooks"
	listTokens       = "tokens"
	listAccounts     = "accounts"
	listTargetErrors = "target_errors"
	listTargetRuns   = "target_runs"
)

// nameKey orders by name, case-insensitively, then id.
func nameKey(name, id string) string { return strings.ToLower(name) + "\x00" + id }

// timeKey orders by a time, then id.
func timeKey(t time.Time, id string) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z") + "\x00" + id
}

// pageWhole cuts a page of a listing read whole.
func pageWhole[T any](list string, items []T, err error, key func(T) string, q PageQuery) (Page[T], error) {
	if err != nil {
		return Page[T]{}, err
	}
	limit, err := checkLimit(q.Limit, DefaultLimit)
	if err != nil {
		return Page[T]{}, err
	}
	return pageSlice(list, items, key, q.After, limit)
}

// SourcePage lists the account's sources a page at a time, by name.
func (m *Manager) SourcePage(ctx context.Context, actor Actor, q PageQuery) (Page[SourceView], error) {
	vs, err := m.Sources(ctx, actor)
	return pageWhole(listSources, vs, err, func(v SourceView) string { return nameKey(v.Name, v.ID) }, q)
}

// TargetPage lists the account's targets a page at a time, by name.
func (m *Manager) TargetPage(ctx context.Context, actor Actor, q PageQuery) (Page[TargetView], error) {
	vs, err := m.Targets(ctx, actor)
	return pageWhole(listTargets, vs, err, func(v TargetView) string { return nameKey(v.Name, v.ID) }, q)
}

// WebhookPage lists the account's webhooks a page at a time, oldest first.
func (m *Manager) WebhookPage(ctx context.Context, actor Actor, q PageQuery) (Page[Webhook], error) {
	hs, err := m.Webhooks(ctx, actor)
	return pageWhole(listWebhooks, hs, err, func(h Webhook) string { return timeKey(h.CreatedAt, h.ID) }, q)
}

// TokenPage lists the account's API tokens a page at a time, oldest first.
func (m *Manager) TokenPage(ctx context.Context, actor Actor, q PageQuery) (Page[APIToken], error) {
	ts, err := m.Tokens(ctx, actor)
	return pageWhole(listTokens, ts, err, func(t APIToken) string { return timeKey(t.CreatedAt, t.ID) }, q)
}

// AccountPage lists the accounts the actor may see a page at a time, by name.
func (m *Manager) AccountPage(ctx context.Context, actor Actor, q PageQuery) (Page[directory.Account], error) {
	as, err := m.Accounts(ctx, actor)
	return pageWhole(listAccounts, as, err, func(a directory.Account) string { return nameKey(a.Name, a.ID) }, q)
}

// TargetErrorPage lists a target's open errors a page at a time, by kind,
// object, anchor and attribute.
func (m *Manager) TargetErrorPage(ctx context.Context, actor Actor, key string, q PageQuery) (Page[TargetError], error) {
	es, err := m.TargetErrors(ctx, actor, key)
	return pageWhole(listTargetErrors, es, err, func(e TargetError) string {
		return e.Kind + "\x00" + strings.ToLower(e.Object) + "\x00" + e.Anchor + "\x00" + e.Attribute
	}, q)
}

// TargetRunPage lists a target's export runs a page at a time, newest
// first; the store cuts the page.
func (m *Manager) TargetRunPage(ctx context.Context, actor Actor, key string, q PageQuery) (Page[ExportRun], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[ExportRun]{}, err
	}
	limit, err := checkLimit(q.Limit, DefaultLimit)
	if err != nil {
		return Page[ExportRun]{}, err
	}
	after, err := decodeCursor(listTargetRuns, q.After)
	if err != nil {
		return Page[ExportRun]{}, err
	}
	t, err := m.findTarget(ctx, m.d.Store, actor, key)
	if err != nil {
		return Page[ExportRun]{}, err
	}
	p, err := m.d.Store.ExportRunPage(ctx, t.ID, after, limit)
	if err != nil {
		return Page[ExportRun]{}, err
	}
	return pageOf(listTargetRuns, p.Items, p.Next), nil
}
