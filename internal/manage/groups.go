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
	Name   string // only groups of this name (case-insensitively)
	After  string
	Limit  int
}

// Groups lists the account's groups.
func (m *Manager) Groups(ctx context.Context, actor Actor, q GroupQuery) (Page[directory.Group], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[directory.Group]{}, err
	}
	if err := CheckSearch(q.Search); err != nil {
		return Page[directory.Group]{}, err
	}
	sq := store.GroupQuery{States: q.States, Search: q.Search, Limit: q.Limit, Name: strings.TrimSpace(q.Name)}
	if err := m.checkListing(ctx, actor, q.States, q.Source, q.Limit, &sq.SourceID); err != nil {
		return Page[directory.Group]{}, err
	}
	var err error
	if sq.After, err = decodeCursor(listGroups, q.After); err != nil {
		return Page[directory.Group]{}, err
	}
	page, err := m.d.Store.Groups(ctx, actor.AccountID, sq)
	if err != nil {
		return Page[directory.Group]{}, cursorError(err)
	}
	for i := range page.Items {
		normalizeGroup(&page.Items[i])
	}
	return pageOf(listGroups, page.Items, page.Next), nil
}

func normalizeGroup(g *directory.Group) { g.Normalize() }

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

// MemberQuery pages a group's members, ordered by kind (groups, then
// users) then name then id.
type MemberQuery struct {
	// Effective lists every user and group reached through nesting, each
	// once; otherwise only the direct members.
	Effective bool
	After     string // the Next of the previous page
	Limit     int    // 0 lists every member
}

// Members lists a group's members.
func (m *Manager) Members(ctx context.Context, actor Actor, key string, q MemberQuery) (directory.Group, Page[directory.Member], error) {
	g, err := m.Group(ctx, actor, key)
	if err != nil {
		return g, Page[directory.Member]{}, err
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return g, Page[directory.Member]{}, invalid("limit", "limit must be a whole number from 1 to %d", MaxLimit)
	}
	sq := store.MemberQuery{Transitive: q.Effective, Limit: q.Limit}
	if sq.After, err = decodeCursor(listMembers, q.After); err != nil {
		return g, Page[directory.Member]{}, err
	}
	// The database walks the nesting and cuts the page (a keyset):
	// a page of a group of 100,000 members reads a page.
	page, err := m.d.Store.MemberPage(ctx, actor.AccountID, g.ID, sq)
	if err != nil {
		return g, Page[directory.Member]{}, cursorError(err)
	}
	return g, pageOf(listMembers, page.Items, page.Next), nil
}

// GroupsOfQuery pages the groups a user is in, ordered by name then id.
type GroupsOfQuery struct {
	// Transitive lists every group the user is in through nesting too
	// (Graph's transitiveMemberOf); otherwise its direct groups.
	Transitive bool
	After      string // the Next of the previous page
	Limit      int    // 0 lists every group
}

// GroupsOf lists the groups a user (by id, username or email) is in.
func (m *Manager) GroupsOf(ctx context.Context, actor Actor, key string, q GroupsOfQuery) (directory.User, Page[directory.Group], error) {
	u, err := m.User(ctx, actor, key)
	if err != nil {
		return u, Page[directory.Group]{}, err
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return u, Page[directory.Group]{}, invalid("limit", "limit must be a whole number from 1 to %d", MaxLimit)
	}
	sq := store.MemberQuery{Transitive: q.Transitive, Limit: q.Limit}
	if sq.After, err = decodeCursor(listGroupsOf, q.After); err != nil {
		return u, Page[directory.Group]{}, err
	}
	page, err := m.d.Store.GroupsOfPage(ctx, actor.AccountID, u.ID, sq)
	if err != nil {
		return u, Page[directory.Group]{}, cursorError(err)
	}
	for i := range page.Items {
		normalizeGroup(&page.Items[i])
	}
	return u, pageOf(listGroupsOf, page.Items, page.Next), nil
}
