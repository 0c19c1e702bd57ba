package manage

import (
	"context"
	"errors"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// GroupQuery filters and pages a group listing, ordered by name then id.
type GroupQuery struct {
	States []directory.State
	Source string // name or id
	Search string
	After  string
	Limit  int
}

// Groups lists the account's groups.
func (m *Manager) Groups(ctx context.Context, actor Actor, q GroupQuery) (Page[directory.Group], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[directory.Group]{}, err
	}
	if err := checkSearch(q.Search); err != nil {
		return Page[directory.Group]{}, err
	}
	sq := store.GroupQuery{States: q.States, Search: q.Search, After: q.After, Limit: q.Limit}
	if err := m.checkListing(ctx, actor, q.States, q.Source, q.Limit, &sq.SourceID); err != nil {
		return Page[directory.Group]{}, err
	}
	page, err := m.d.Store.Groups(ctx, actor.AccountID, sq)
	if page.Items == nil {
		page.Items = []directory.Group{}
	}
	for i := range page.Items {
		normalizeGroup(&page.Items[i])
	}
	return page, err
}

func normalizeGroup(g *directory.Group) {
	if g.Sources == nil {
		g.Sources = []directory.SourceLink{}
	}
	if g.GroupTypes == nil {
		g.GroupTypes = []string{}
	}
}

// Group finds a group by id or name.
func (m *Manager) Group(ctx context.Context, actor Actor, key string) (directory.Group, error) {
	if err := actor.require(ActRead); err != nil {
		return directory.Group{}, err
	}
	g, err := findGroup(ctx, m.d.Store, actor, key)
	normalizeGroup(&g)
	return g, err
}

func findGroup(ctx context.Context, rd store.Reader, actor Actor, key string) (directory.Group, error) {
	key = strings.TrimSpace(key)
	g, err := rd.Group(ctx, actor.AccountID, key)
	if errors.Is(err, store.ErrNotFound) {
		g, err = rd.GroupByName(ctx, actor.AccountID, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		return g, notFound("account %s has no group %q (by id or name)", actor.AccountName, key).with(err)
	}
	return g, err
}

// Members lists a group's members: its effective members (every user and
// group reached through nesting, each once) or only its direct ones.
func (m *Manager) Members(ctx context.Context, actor Actor, key string, effective bool) (directory.Group, []directory.Member, error) {
	g, err := m.Group(ctx, actor, key)
	if err != nil {
		return g, nil, err
	}
	ms, err := m.d.Store.Members(ctx, actor.AccountID, g.ID, effective)
	if ms == nil {
		ms = []directory.Member{}
	}
	return g, ms, err
}
