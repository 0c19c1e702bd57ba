package odata

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/model"
)

// Page sizes of Graph's directory collections.
const (
	DefaultTop = 100
	MaxTop     = 999
)

// AdvancedHint ends Graph's errors for queries that need the advanced
// query parameters.
const AdvancedHint = "Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"

// Query is a parsed set of query options on a collection.
type Query struct {
	Top      int
	Eventual bool // ConsistencyLevel: eventual
	Count    bool // @odata.count requested and allowed
	Filter   *Filter
	Search   *Search
	OrderBy  string
	Desc     bool
	after    string // skip token: last id returned
	offset   int    // skip token with $orderby: position
}

// Collection says how a collection may be queried.
type Collection struct {
	// Resource names the collection's type in errors, such as "User".
	Resource string
	// Filterable reports whether $filter and $search may name a property.
	Filterable func(name string) bool
	// Sortable are the properties $orderby accepts.
	Sortable []string
}

// keys Graph accepts without their "$" and in any case.
var odataKeys = []string{"select", "filter", "top", "count", "search", "orderby", "expand", "skiptoken", "deltatoken", "skip"}

// NormalizeQuery parses a raw query string with OData's keys in one form:
// lower case, with "$".
func NormalizeQuery(raw string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, err
	}
	out := url.Values{}
	for k, v := range q {
		key := k
		if bare := strings.TrimPrefix(strings.ToLower(k), "$"); slices.Contains(odataKeys, bare) {
			key = "$" + bare
		}
		out[key] = append(out[key], v...)
	}
	return out, nil
}

// ParseQuery reads $top, $count, $search, $filter, $orderby and $skiptoken
// from q (normalized keys), refusing what Graph refuses with its errors.
func ParseQuery(q url.Values, eventual bool, c Collection) (*Query, *model.Error) {
	o := &Query{Top: DefaultTop, Eventual: eventual}
	countParam := strings.EqualFold(q.Get("$count"), "true")
	o.Count = countParam && eventual
	advanced := eventual && countParam
	steps := []func() *model.Error{
		func() *model.Error { return o.parseTop(q.Get("$top")) },
		func() *model.Error { return o.parseSearch(q.Get("$search"), c) },
		func() *model.Error { return o.parseFilter(q.Get("$filter"), c, advanced) },
		func() *model.Error { return o.parseOrderBy(q.Get("$orderby"), c, advanced) },
		func() *model.Error { return o.parseSkipToken(q.Get("$skiptoken")) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *Query) parseTop(v string) *model.Error {
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxTop {
		return model.Errorf(400, model.CodeUnsupported, "Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", v)
	}
	o.Top = n
	return nil
}

func (o *Query) parseSearch(v string, c Collection) *model.Error {
	if v == "" {
		return nil
	}
	if !o.Eventual {
		return model.Errorf(400, model.CodeUnsupported, "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
	}
	s, err := ParseSearch(v)
	if err != nil {
		return model.Errorf(400, model.CodeUnsupported, "Syntax error: %s", err)
	}
	for _, p := range s.Props() {
		if !c.Filterable(p) {
			return model.Errorf(400, model.CodeUnsupported, "Unsupported or invalid query search clause specified for property '%s' of resource '%s'.", p, c.Resource)
		}
	}
	o.Search = s
	return nil
}

func (o *Query) parseFilter(v string, c Collection, advanced bool) *model.Error {
	if v == "" {
		return nil
	}
	f, err := ParseFilter(v)
	if err != nil {
		return model.Errorf(400, "BadRequest", "Invalid filter clause: %s", err)
	}
	for _, p := range f.Props {
		if !c.Filterable(p) {
			return model.Errorf(400, model.CodeUnsupported, "Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", p, c.Resource)
		}
	}
	if f.Advanced != "" && !advanced {
		return model.Errorf(400, model.CodeUnsupported, "Operator '%s' is not supported because the required parameters might be missing. %s", f.Advanced, AdvancedHint)
	}
	o.Filter = f
	return nil
}

func (o *Query) parseOrderBy(v string, c Collection, advanced bool) *model.Error {
	if v == "" {
		return nil
	}
	field, dir, _ := strings.Cut(strings.TrimSpace(v), " ")
	i := slices.IndexFunc(c.Sortable, func(s string) bool { return strings.EqualFold(s, field) })
	if i < 0 {
		return model.Errorf(400, model.CodeUnsupported, "Sorting not supported for property '%s' of resource '%s'.", field, c.Resource)
	}
	o.OrderBy = c.Sortable[i]
	o.Desc = strings.EqualFold(strings.TrimSpace(dir), "desc")
	if (o.Filter != nil || o.Search != nil) && !advanced {
		return model.Errorf(400, model.CodeUnsupported, "Sorting not supported for current query. %s", AdvancedHint)
	}
	return nil
}

func (o *Query) parseSkipToken(v string) *model.Error {
	if v == "" {
		return nil
	}
	expired := model.BadRequest("The specified page token value has expired and can no longer be included in your request.")
	kind, val, ok := decodeSkipToken(v)
	if !ok {
		return expired
	}
	if kind != 'o' {
		o.after = val
		return nil
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 0 {
		return expired
	}
	o.offset = n
	return nil
}

// Match reports whether an object passes $filter and $search.
func (o *Query) Match(get Getter) bool {
	if o.Filter != nil && !o.Filter.Match(get) {
		return false
	}
	return o.Search == nil || o.Search.Match(get)
}

// Skip tokens are base64 of "DSpt" (as Graph's start, "RFNwdA") and the
// position.
func encodeSkipToken(kind byte, val string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{'D', 'S', 'p', 't', kind, ':'}, val...))
}

func decodeSkipToken(s string) (byte, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) < 6 || string(b[:4]) != "DSpt" || b[5] != ':' {
		return 0, "", false
	}
	return b[4], string(b[6:]), true
}

// NextLink is the request URL (base, path and raw query) with its
// $skiptoken replaced by token.
func NextLink(base, path, rawQuery, token string) string {
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		uk, _ := url.QueryUnescape(k)
		if strings.EqualFold(strings.TrimPrefix(uk, "$"), "skiptoken") {
			continue
		}
		kept = append(kept, part)
	}
	kept = append(kept, "$skiptoken="+token)
	return base + path + "?" + strings.Join(kept, "&")
}

// Page pages through ids (sorted) that match: it returns the ids of this
// page, the skip token for the next one ("" at the end), and the number of
// matches when o.Count. With $orderby, sortKey gives each id's sort value.
// Without it, the skip token holds the last id returned, so objects created
// or deleted between pages neither shift nor repeat the others.
func (o *Query) Page(ids []string, match func(id string) bool, sortKey func(id string) string) (out []string, next string, total int) {
	if o.OrderBy != "" && sortKey != nil {
		return o.sortedPage(ids, match, sortKey)
	}
	start := 0
	if o.after != "" {
		start, _ = slices.BinarySearch(ids, o.after)
		if start < len(ids) && ids[start] == o.after {
			start++
		}
	}
	i := start
	for ; i < len(ids) && len(out) < o.Top; i++ {
		if match(ids[i]) {
			out = append(out, ids[i])
		}
	}
	// Graph gives a nextLink while objects may remain; look ahead so the
	// last page is not an empty one.
	if slices.ContainsFunc(ids[i:], match) {
		next = encodeSkipToken('k', out[len(out)-1])
	}
	if o.Count {
		total = Count(ids, match)
	}
	return out, next, total
}

func (o *Query) sortedPage(ids []string, match func(string) bool, sortKey func(string) string) ([]string, string, int) {
	var all []string
	for _, id := range ids {
		if match(id) {
			all = append(all, id)
		}
	}
	slices.SortStableFunc(all, func(a, b string) int {
		c := strings.Compare(strings.ToLower(sortKey(a)), strings.ToLower(sortKey(b)))
		if o.Desc {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a, b)
		}
		return c
	})
	start := min(o.offset, len(all))
	end := min(start+o.Top, len(all))
	next := ""
	if end < len(all) {
		next = encodeSkipToken('o', strconv.Itoa(end))
	}
	return all[start:end], next, len(all)
}

// Count is the number of ids that match.
func Count(ids []string, match func(string) bool) int {
	n := 0
	for _, id := range ids {
		if match(id) {
			n++
		}
	}
	return n
}

// ParseExpand accepts $expand naming one of allowed (case-insensitively)
// and returns its name, "" without $expand.
func ParseExpand(v string, allowed ...string) (string, *model.Error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", model.Errorf(400, model.CodeUnsupported, "Expand is not supported for '%s' by the emulator; use /%s.", v, v)
}

// SelectNames splits $select into its names, trimmed, without empty ones.
func SelectNames(sel string) []string {
	var out []string
	for _, name := range strings.Split(sel, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// ContextFragment is an @odata.context fragment for an entity set and its
// $select names: "users(id,displayName)".
func ContextFragment(entitySet string, names []string) string {
	if len(names) == 0 {
		return entitySet
	}
	return fmt.Sprintf("%s(%s)", entitySet, strings.Join(names, ","))
}
