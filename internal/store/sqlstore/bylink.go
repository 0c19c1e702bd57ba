package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
)

// byLinkBatch is how many external ids one statement of UsersByLink or
// GroupsByLink looks up.
const byLinkBatch = 500

// UsersByLink looks up many links in a few statements: an incremental
// run's thousand users in two, where one lookup each made a thousand.
func (r reader) UsersByLink(ctx context.Context, sourceID string, externalIDs []string) (map[string]directory.User, error) {
	out, err := objectsByLink(ctx, r, sourceID, externalIDs, userSelect(`SELECT * FROM users WHERE id IN
		(SELECT user_id FROM user_links WHERE source_id = ? AND external_id IN (%s))`, `u.id`),
		readUsers, func(u directory.User) []directory.SourceLink { return u.Sources })
	return out, wrap(err, r.c.f, "users linked to source %s", sourceID)
}

// GroupsByLink is UsersByLink for groups.
func (r reader) GroupsByLink(ctx context.Context, sourceID string, externalIDs []string) (map[string]directory.Group, error) {
	out, err := objectsByLink(ctx, r, sourceID, externalIDs, groupSelect(`SELECT * FROM groups WHERE id IN
		(SELECT group_id FROM group_links WHERE source_id = ? AND external_id IN (%s))`, `g.id`),
		readGroups, func(g directory.Group) []directory.SourceLink { return g.Sources })
	return out, wrap(err, r.c.f, "groups linked to source %s", sourceID)
}

// objectsByLink runs the query (its first %s the placeholders of a batch of
// external ids) a batch at a time and maps each object read by its link to
// the source. The statements' length follows the batch's, so they run
// unprepared.
func objectsByLink[T any](ctx context.Context, r reader, sourceID string, externalIDs []string, query string,
	read func(*sql.Rows) ([]T, []string, error), links func(T) []directory.SourceLink) (map[string]T, error) {
	out := map[string]T{}
	err := byLink(externalIDs, func(ids []string, in string) error {
		rows, err := r.c.queryOnce(ctx, strings.Replace(query, "%s", in, 1), linkArgs(sourceID, ids)...)
		if err != nil {
			return err
		}
		objs, _, err := read(rows)
		for _, o := range objs {
			for _, l := range links(o) {
				if l.SourceID == sourceID {
					out[l.ExternalID] = o
				}
			}
		}
		return err
	})
	return out, err
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
