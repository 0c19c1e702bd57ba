package entra

import (
	"context"
	"strings"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/graph"
)

var _ connector.Searcher = (*conn)(nil)

// searchTerm is a $search clause on one property. Graph tokenizes
// displayName and matches words by prefix; a double quote would end the
// clause, so it is dropped.
func searchTerm(property, query string) string {
	return `"` + property + ":" + strings.ReplaceAll(strings.TrimSpace(query), `"`, "") + `"`
}

// SearchGroups finds groups whose name matches query, one page of at most
// limit+1 results, so the caller learns whether there are more.
func (c *conn) SearchGroups(ctx context.Context, query string, limit int) ([]directory.SourceGroup, bool, error) {
	var found []directory.SourceGroup
	err := c.client.ListGroups(ctx, graph.Query{Search: searchTerm("displayName", query), Top: limit + 1}, func(gs []graph.Group) error {
		for _, g := range gs {
			found = append(found, sourceGroup(g))
		}
		return graph.ErrStop
	})
	if err != nil {
		return nil, false, c.classify(err, "search groups", permMembers)
	}
	if len(found) > limit {
		return found[:limit], true, nil
	}
	return found, false, nil
}

// SearchUsers finds users whose display name (by its words), UPN or mail
// (by its start) matches query.
func (c *conn) SearchUsers(ctx context.Context, query string, limit int) ([]directory.SourceUser, bool, error) {
	var found []directory.SourceUser
	q := graph.Query{Search: searchTerm("displayName", query) + " OR " + searchTerm("userPrincipalName", query) + " OR " + searchTerm("mail", query),
		Top: limit + 1}
	err := c.client.ListUsers(ctx, q, func(us []graph.User) error {
		for _, u := range us {
			found = append(found, sourceUser(u))
		}
		return graph.ErrStop
	})
	if err != nil {
		return nil, false, c.classify(err, "search users", permUsers)
	}
	if len(found) > limit {
		return found[:limit], true, nil
	}
	return found, false, nil
}
