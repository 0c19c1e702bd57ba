package manage

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/scope"
)

// FindUserToSync finds the users of a source that "Sync one user" may
// pick, by display name, UPN (username) or email: those the source finds
// (connector.Searcher: a user it holds that was never synced, too), and
// those of the directory the source brought in that the directory's
// search finds (directory.SearchWords: the word rule of every user
// search). At most scope.MaxSearchResults, by username; More says there
// were more.
func (m *Manager) FindUserToSync(ctx context.Context, actor Actor, key, query string) (SearchResult, error) {
	if err := actor.require(ActSyncUser); err != nil {
		return SearchResult{}, err
	}
	query = strings.TrimSpace(query)
	if query == "" {
		return SearchResult{}, invalid("search", "the search text is required: a name, UPN or email, or their start")
	}
	if err := CheckSearch(query); err != nil {
		return SearchResult{}, err
	}
	src, err := m.findSource(ctx, m.d.Store, actor, key)
	if err != nil {
		return SearchResult{}, err
	}
	res := SearchResult{Results: []SearchHit{}}
	seen := map[string]bool{}
	add := func(h SearchHit) {
		if !seen[h.ExternalID] {
			seen[h.ExternalID] = true
			res.Results = append(res.Results, h)
		}
	}
	conn, err := m.connect(src)
	if err != nil {
		return SearchResult{}, err
	}
	if s, ok := conn.(connector.Searcher); ok {
		us, more, err := s.SearchUsers(ctx, query, scope.MaxSearchResults)
		if err != nil {
			return SearchResult{}, &Error{Kind: SourceFailed, Message: "source " + src.Name + ": " + connectorMessage(err), Err: err}
		}
		res.More = more
		for _, u := range us {
			add(SearchHit{ExternalID: u.ExternalID, Name: u.Username, Mail: u.Email, DisplayName: u.DisplayName})
		}
	}
	page, err := m.Users(ctx, actor, UserQuery{Source: src.ID, Search: query, Limit: scope.MaxSearchResults + 1})
	if err != nil {
		return SearchResult{}, err
	}
	for _, u := range page.Items {
		for _, l := range u.Sources {
			if l.SourceID == src.ID {
				add(SearchHit{ExternalID: l.ExternalID, Name: u.Username, Mail: u.Email, DisplayName: u.DisplayName})
			}
		}
	}
	res.More = res.More || page.Next != ""
	slices.SortFunc(res.Results, func(a, b SearchHit) int {
		return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	if len(res.Results) > scope.MaxSearchResults {
		res.Results, res.More = res.Results[:scope.MaxSearchResults], true
	}
	return res, nil
}
