package manage

import (
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/store"
)

// Every listing pages the same way, whichever front end asks. A page holds
// at most a limit of items (DefaultLimit when the caller gives none, never
// more than MaxLimit). Its Next is an opaque cursor, empty on the last
// page, that the caller hands back as After for the page that follows; a
// cursor starts strictly after the last item it was given with, so items
// created or deleted meanwhile neither repeat nor shift a page. A cursor
// names its listing: one listing's cursor handed to another is refused.

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ParseLimit reads a page size given as text (a query parameter, a form
// field): "" is DefaultLimit.
func ParseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, invalid("limit", "limit must be a whole number from 1 to %d", MaxLimit)
	}
	return n, nil
}

func checkLimit(limit, def int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 0 || limit > MaxLimit:
		return 0, invalid("limit", "limit must be a whole number from 1 to %d", MaxLimit)
	}
	return limit, nil
}

// Listings, as their cursors name them.
const (
	listUsers      = "users"
	listGroups     = "groups"
	listMembers    = "members"
	listRuns       = "runs"
	listChanges    = "changes"
	listTrash      = "trash"
	listDeliveries = "deliveries"
	listEvents     = "events"
	listGroupsOf   = "groups_of"
	listUserHist   = "user_changes"
)

// cursorSep ends a cursor's listing name; no listing's position holds it.
const cursorSep = "\x1e"

// encodeCursor makes the cursor of a position in a listing; "" stays ""
// (the last page has none).
func encodeCursor(list, pos string) string {
	if pos == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(list + cursorSep + pos))
}

// decodeCursor reads a cursor of the listing back into its position; ""
// is the start.
func decodeCursor(list, c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	name, pos, ok := strings.Cut(string(b), cursorSep)
	if err != nil || !ok || pos == "" {
		return "", invalid("after", "after is not a cursor this listing returned: pass back the next link of the previous page")
	}
	if name != list {
		return "", invalid("after", "after is a cursor of the %s listing, not of %s", name, list)
	}
	return pos, nil
}

// pageOf wraps a store page's items and position as a page of the listing.
func pageOf[T any](list string, items []T, next string) Page[T] {
	if items == nil {
		items = []T{}
	}
	return Page[T]{Items: items, Next: encodeCursor(list, next)}
}

// cursorError tells a cursor the store could not read (one forged from a
// listing's name and a made-up position) from a failure of the store.
func cursorError(err error) error {
	if errors.Is(err, store.ErrInvalidCursor) {
		return invalid("after", "after is not a cursor this listing returned: pass back the next link of the previous page").with(err)
	}
	return err
}

// pageSlice cuts a page out of a whole listing held in memory, by key:
// items added or removed between pages neither repeat nor shift a page.
func pageSlice[T any](list string, items []T, key func(T) string, after string, limit int) (Page[T], error) {
	pos, err := decodeCursor(list, after)
	if err != nil {
		return Page[T]{}, err
	}
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	if pos != "" {
		start, _ := slices.BinarySearchFunc(items, pos, func(it T, pos string) int {
			if key(it) <= pos {
				return -1
			}
			return 1
		})
		items = items[start:]
	}
	next := ""
	if limit > 0 && len(items) > limit {
		items = items[:limit]
		next = key(items[limit-1])
	}
	return pageOf(list, items, next), nil
}
