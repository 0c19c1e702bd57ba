package manage

import (
	"context"
	"errors"
	"slices"
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
	sq := store.GroupQuery{States: q.States, Search: q.Search, Limit: q.Limit}
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
	pos, err := decodeCursor(listMembers, q.After)
	if err != nil {
		return g, Page[directory.Member]{}, err
	}
	ms, err := m.d.Store.Members(ctx, actor.AccountID, g.ID, q.Effective)
	if err != nil {
		return g, Page[directory.Member]{}, err
	}
	// The store hands every member over (a transitive walk cannot resume
	// in the middle); the page is cut here, by key, so that members added
	// or removed between pages neither repeat nor shift one.
	slices.SortFunc(ms, func(a, b directory.Member) int { return strings.Compare(memberKey(a), memberKey(b)) })
	if pos != "" {
		start, _ := slices.BinarySearchFunc(ms, pos, func(m directory.Member, pos string) int {
			if memberKey(m) <= pos {
				return -1
			}
			return 1
		})
		ms = ms[start:]
	}
	next := ""
	if q.Limit > 0 && len(ms) > q.Limit {
		ms = ms[:q.Limit]
		next = memberKey(ms[q.Limit-1])
	}
	return g, pageOf(listMembers, ms, next), nil
}

// memberKey orders members: by kind, then name, then id.
func memberKey(m directory.Member) string {
	return string(m.Kind) + "\x00" + strings.ToLower(m.Name) + "\x00" + m.ID
}
