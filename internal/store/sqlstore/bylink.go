package sqlstore

import (
	"context"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// byLinkBatch is how many external ids one statement of UsersByLink or
// GroupsByLink looks up.
const byLinkBatch = 500

// UsersByLink looks up many links in a few statements: an incremental
// run's thousand users in two, where one lookup each made a thousand.
// The statements are generated (their length follows the batch's), so
// they run unprepared.
func (r reader) UsersByLink(ctx context.Context, sourceID string, externalIDs []string) (map[string]directory.User, error) {
	out := map[string]directory.User{}
	err := byLink(externalIDs, func(ids []string, in string) error {
		rows, err := r.c.queryOnce(ctx, userSelect(`SELECT * FROM users WHERE id IN
			(SELECT user_id FROM user_links WHERE source_id = ? AND external_id IN (`+in+`))`, `u.id`), linkArgs(sourceID, ids)...)
		if err != nil {
			return err
		}
		users, _, err := readUsers(rows)
		for _, u := range users {
			for _, l := range u.Sources {
				if l.SourceID == sourceID {
					out[l.ExternalID] = u
				}
			}
		}
		return err
	})
	return out, wrap(err, r.c.f, "users linked to source %s", sourceID)
}

// GroupsByLink is UsersByLink for groups.
func (r reader) GroupsByLink(ctx context.Context, sourceID string, externalIDs []string) (map[string]directory.Group, error) {
	out := map[string]directory.Group{}
	err := byLink(externalIDs, func(ids []string, in string) error {
		rows, err := r.c.queryOnce(ctx, groupSelect(`SELECT * FROM groups WHERE id IN
			(SELECT group_id FROM group_links WHERE source_id = ? AND external_id IN (`+in+`))`, `g.id`), linkArgs(sourceID, ids)...)
		if err != nil {
			return err
		}
		groups, _, err := readGroups(rows)
		for _, g := range groups {
			for _, l := range g.Sources {
				if l.SourceID == sourceID {
					out[l.ExternalID] = g
				}
			}
		}
		return err
	})
	return out, wrap(err, r.c.f, "groups linked to source %s", sourceID)
}

// byLink calls each with the external ids a batch at a time, and the
// batch's placeholders.
func byLink(ids []string, each func(ids []string, in string) error) error {
	for len(ids) > 0 {
		n := min(len(ids), byLinkBatch)
		if err := each(ids[:n], strings.TrimSuffix(strings.Repeat("?, ", n), ", ")); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func linkArgs(sourceID string, ids []string) []any {
	args := make([]any, 0, 1+len(ids))
	args = append(args, sourceID)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}
