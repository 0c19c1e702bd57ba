package entraemu

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Collections: users, groups, members, memberOf, deleted items. Lists are
// in object id order and paged with an opaque $skiptoken that holds the
// last id returned, so objects created or deleted between pages neither
// shift nor repeat the others.

const advancedHint = "Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"

type listOpts struct {
	top      int
	eventual bool
	count    bool // @odata.count requested and allowed
	filter   *filterSpec
	search   *searchSpec
	orderBy  string
	desc     bool
	after    string // skiptoken: last id returned
	offset   int    // skiptoken with $orderby: position
}

// selMasks holds a $select per entity type, for lists of mixed objects.
type selMasks struct {
	user, group, device, contact, sp uint64
	names                            []string
}

func (m *selMasks) forKind(k objKind) uint64 {
	switch k {
	case kUser:
		return m.user
	case kGroup:
		return m.group
	case kDevice:
		return m.device
	case kContact:
		return m.contact
	}
	return m.sp
}

// parseMixedSelect parses $select for a list that may hold any directory
// object: a name must exist on at least one type.
func parseMixedSelect(sel string) (*selMasks, *apiError) {
	m := &selMasks{user: userProps.defMask, group: groupProps.defMask, device: deviceProps.defMask, contact: contactProps.defMask, sp: spProps.defMask}
	if strings.TrimSpace(sel) == "" {
		return m, nil
	}
	*m = selMasks{}
	for _, name := range strings.Split(sel, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		found := false
		for _, set := range []struct {
			mask *uint64
			look func(string) uint64
		}{
			{&m.user, func(n string) uint64 { return bitOf(userProps.lookup(n)) }},
			{&m.group, func(n string) uint64 { return bitOf(groupProps.lookup(n)) }},
			{&m.device, func(n string) uint64 { return bitOf(deviceProps.lookup(n)) }},
			{&m.contact, func(n string) uint64 { return bitOf(contactProps.lookup(n)) }},
			{&m.sp, func(n string) uint64 { return bitOf(spProps.lookup(n)) }},
		} {
			if b := set.look(name); b != 0 {
				*set.mask |= b
				found = true
			}
		}
		if !found {
			return nil, &apiError{400, "BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.directoryObject'.", name)}
		}
		m.names = append(m.names, name)
	}
	m.user |= userProps.byName["id"].bit
	m.group |= groupProps.byName["id"].bit
	m.device |= deviceProps.byName["id"].bit
	m.contact |= contactProps.byName["id"].bit
	m.sp |= spProps.byName["id"].bit
	return m, nil
}

func bitOf[T any](p *prop[T]) uint64 {
	if p == nil {
		return 0
	}
	return p.bit
}

// validProp reports whether $filter may name the property on some table.
type propCheck func(name string) bool

func tableCheck[T any](tab *propTable[T]) propCheck {
	return func(name string) bool {
		p := tab.lookup(name)
		return p != nil && p.kind != pConstNull && p.kind != pConstList && p.kind != pTime
	}
}

func (t *Tenant) parseListOpts(r *greq, check propCheck, resource string, sortable []string) (*listOpts, *apiError) {
	q := r.query
	o := &listOpts{top: defaultPageSize}
	o.eventual = strings.EqualFold(strings.TrimSpace(r.header.Get("ConsistencyLevel")), "eventual")
	countParam := strings.EqualFold(q.Get("$count"), "true")
	o.count = countParam && o.eventual
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return nil, &apiError{400, codeUnsupported, fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", v)}
		}
		o.top = n
	}
	if v := q.Get("$search"); v != "" {
		if !o.eventual {
			return nil, &apiError{400, codeUnsupported, "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"}
		}
		s, err := parseSearch(v)
		if err != nil {
			return nil, &apiError{400, codeUnsupported, "Syntax error: " + err.Error()}
		}
		for _, g := range s.groups {
			for _, c := range g {
				if !check(c.prop) {
					return nil, &apiError{400, codeUnsupported, fmt.Sprintf("Unsupported or invalid query search clause specified for property '%s' of resource '%s'.", c.prop, resource)}
				}
			}
		}
		o.search = s
	}
	if v := q.Get("$filter"); v != "" {
		f, err := parseFilter(v)
		if err != nil {
			return nil, &apiError{400, "BadRequest", "Invalid filter clause: " + err.Error()}
		}
		for _, p := range f.props {
			if !check(p) {
				return nil, &apiError{400, codeUnsupported, fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", p, resource)}
			}
		}
		if f.advanced != "" && !(o.eventual && countParam) {
			return nil, &apiError{400, codeUnsupported, fmt.Sprintf("Operator '%s' is not supported because the required parameters might be missing. %s", f.advanced, advancedHint)}
		}
		o.filter = f
	}
	if v := q.Get("$orderby"); v != "" {
		field, dir, _ := strings.Cut(strings.TrimSpace(v), " ")
		ok := false
		for _, s := range sortable {
			if strings.EqualFold(s, field) {
				o.orderBy, ok = s, true
			}
		}
		if !ok {
			return nil, &apiError{400, codeUnsupported, fmt.Sprintf("Sorting not supported for property '%s' of resource '%s'.", field, resource)}
		}
		o.desc = strings.EqualFold(strings.TrimSpace(dir), "desc")
		if (o.filter != nil || o.search != nil) && !(o.eventual && countParam) {
			return nil, &apiError{400, codeUnsupported, "Sorting not supported for current query. " + advancedHint}
		}
	}
	if v := q.Get("$skiptoken"); v != "" {
		kind, val, ok := decodeSkipToken(v)
		if !ok {
			return nil, &apiError{400, codeBadRequest, "The specified page token value has expired and can no longer be included in your request."}
		}
		if kind == 'o' {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, &apiError{400, codeBadRequest, "The specified page token value has expired and can no longer be included in your request."}
			}
			o.offset = n
		} else {
			o.after = val
		}
	}
	return o, nil
}

func (o *listOpts) match(get getter) bool {
	if o.filter != nil && !o.filter.root.eval(get) {
		return false
	}
	if o.search != nil && !o.search.match(get) {
		return false
	}
	return true
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

// nextLink is the request URL with its $skiptoken replaced.
func nextLink(r *greq, token string) string {
	var kept []string
	for _, part := range strings.Split(r.raw, "&") {
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
	return r.base + "/v1.0" + r.path + "?" + strings.Join(kept, "&")
}

// page pages through ids (sorted) with o: it returns the ids of this page
// and the skip token for the next one ("" at the end), and the total count
// of matches when o.count.
func (o *listOpts) page(ids []string, match func(id string) bool, sortKey func(id string) string) (out []string, next string, total int) {
	if o.orderBy != "" && sortKey != nil {
		var all []string
		for _, id := range ids {
			if match(id) {
				all = append(all, id)
			}
		}
		slices.SortStableFunc(all, func(a, b string) int {
			c := strings.Compare(strings.ToLower(sortKey(a)), strings.ToLower(sortKey(b)))
			if o.desc {
				c = -c
			}
			if c == 0 {
				c = strings.Compare(a, b)
			}
			return c
		})
		total = len(all)
		start := min(o.offset, len(all))
		end := min(start+o.top, len(all))
		if end < len(all) {
			next = encodeSkipToken('o', strconv.Itoa(end))
		}
		return all[start:end], next, total
	}
	start := 0
	if o.after != "" {
		start, _ = slices.BinarySearch(ids, o.after)
		if start < len(ids) && ids[start] == o.after {
			start++
		}
	}
	i := start
	for ; i < len(ids) && len(out) < o.top; i++ {
		if match(ids[i]) {
			out = append(out, ids[i])
		}
	}
	// Graph gives a nextLink while objects may remain; look ahead so the
	// last page is not an empty one.
	for j := i; j < len(ids); j++ {
		if match(ids[j]) {
			next = encodeSkipToken('k', out[len(out)-1])
			break
		}
	}
	if o.count {
		for _, id := range ids {
			if match(id) {
				total++
			}
		}
	}
	return out, next, total
}

// writeCollection writes the collection envelope around items.
func writeCollection(r *greq, t *Tenant, context string, o *listOpts, total int, next string, items func(b []byte) []byte) *gresp {
	var env obj
	env.begin(make([]byte, 0, 4096))
	env.str("@odata.context", t.contextURL(r, context))
	if o != nil && o.count {
		env.raw("@odata.count", strconv.AppendInt(nil, int64(total), 10))
	}
	if next != "" {
		env.str("@odata.nextLink", nextLink(r, next))
	}
	env.key("value")
	env.b = append(env.b, '[')
	env.b = items(env.b)
	env.b = append(env.b, ']')
	return okJSON(200, env.end())
}

func selectContext(entity string, names []string) string {
	if len(names) == 0 {
		return entity
	}
	return entity + "(" + strings.Join(names, ",") + ")"
}

// ---- users ----

func (t *Tenant) userSelect(r *greq) (uint64, []string, *apiError) {
	sel := r.query.Get("$select")
	mask, _, err := userProps.selectMask(sel)
	if err != nil {
		return 0, nil, &apiError{400, "BadRequest", err.Error()}
	}
	return mask, userProps.contextNames(sel), nil
}

var userSortable = []string{"displayName", "userPrincipalName"}

func (t *Tenant) listUsers(r *greq) *gresp {
	mask, names, aerr := t.userSelect(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	o, aerr := t.parseListOpts(r, tableCheck(userProps), "User", userSortable)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	match := func(id string) bool { return o.match(tableGetter(userProps, &t.users[id].User)) }
	key := func(id string) string {
		if o.orderBy == "userPrincipalName" {
			return t.users[id].UserPrincipalName
		}
		return t.users[id].DisplayName
	}
	ids, next, total := o.page(t.userIDs, match, key)
	return writeCollection(r, t, selectContext("users", names), o, total, next, func(b []byte) []byte {
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			var e obj
			e.begin(b)
			userProps.appendObject(&e, &t.users[id].User, mask, false, 0)
			b = e.end()
		}
		return b
	})
}

func (t *Tenant) countUsers(r *greq) *gresp {
	return t.countCollection(r, func(o *listOpts) int {
		n := 0
		for _, id := range t.userIDs {
			if o.match(tableGetter(userProps, &t.users[id].User)) {
				n++
			}
		}
		return n
	}, tableCheck(userProps), "User")
}

// countCollection serves /$count, which needs ConsistencyLevel: eventual.
func (t *Tenant) countCollection(r *greq, count func(*listOpts) int, check propCheck, resource string) *gresp {
	if !strings.EqualFold(r.header.Get("ConsistencyLevel"), "eventual") {
		return r.errorf(t, 400, codeBadRequest, "$count is not currently supported.")
	}
	// $filter in a /$count request needs no $count=true: the segment is it.
	r.query.Set("$count", "true")
	o, aerr := t.parseListOpts(r, check, resource, nil)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.RLock()
	n := count(o)
	t.mu.RUnlock()
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	return &gresp{status: 200, header: h, body: []byte(strconv.Itoa(n))}
}

func (t *Tenant) getUser(r *greq) *gresp {
	mask, names, aerr := t.userSelect(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	u := t.lookupUser(r.segs[1])
	if u == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, selectContext("users", names)+"/$entity"))
	userProps.appendObject(&o, &u.User, mask, false, 0)
	return okJSON(200, o.end())
}

// ---- groups ----

func (t *Tenant) groupSelect(r *greq) (uint64, []string, *apiError) {
	sel := r.query.Get("$select")
	mask, _, err := groupProps.selectMask(sel)
	if err != nil {
		return 0, nil, &apiError{400, "BadRequest", err.Error()}
	}
	return mask, groupProps.contextNames(sel), nil
}

func (t *Tenant) listGroups(r *greq) *gresp {
	mask, names, aerr := t.groupSelect(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	o, aerr := t.parseListOpts(r, tableCheck(groupProps), "Group", []string{"displayName"})
	if aerr != nil {
		return r.fail(t, aerr)
	}
	expand, aerr := parseExpand(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	match := func(id string) bool { return o.match(tableGetter(groupProps, &t.groups[id].Group)) }
	key := func(id string) string { return t.groups[id].DisplayName }
	ids, next, total := o.page(t.groupIDs, match, key)
	return writeCollection(r, t, selectContext("groups", names), o, total, next, func(b []byte) []byte {
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.appendGroup(b, t.groups[id], mask, expand)
		}
		return b
	})
}

// parseExpand accepts $expand=members (at most 20 members inline, as
// Graph returns for an expanded relationship).
func parseExpand(r *greq) (bool, *apiError) {
	v := strings.TrimSpace(r.query.Get("$expand"))
	switch {
	case v == "":
		return false, nil
	case strings.EqualFold(v, "members"):
		return true, nil
	}
	return false, &apiError{400, codeUnsupported, fmt.Sprintf("Expand is not supported for '%s' by the emulator; use /members.", v)}
}

func (t *Tenant) appendGroup(b []byte, g *groupRec, mask uint64, expand bool) []byte {
	var e obj
	e.begin(b)
	t.appendGroupFields(&e, g, mask, expand)
	return e.end()
}

func (t *Tenant) appendGroupFields(e *obj, g *groupRec, mask uint64, expand bool) {
	groupProps.appendObject(e, &g.Group, mask, false, 0)
	if !expand {
		return
	}
	e.key("members")
	e.b = append(e.b, '[')
	for i, m := range g.members {
		if i == 20 {
			break
		}
		if i > 0 {
			e.b = append(e.b, ',')
		}
		var me obj
		me.begin(e.b)
		me.str("@odata.type", "#microsoft.graph."+m.kind.String())
		me.str("id", m.id)
		e.b = me.end()
	}
	e.b = append(e.b, ']')
}

func (t *Tenant) countGroups(r *greq) *gresp {
	return t.countCollection(r, func(o *listOpts) int {
		n := 0
		for _, id := range t.groupIDs {
			if o.match(tableGetter(groupProps, &t.groups[id].Group)) {
				n++
			}
		}
		return n
	}, tableCheck(groupProps), "Group")
}

func (t *Tenant) getGroup(r *greq) *gresp {
	mask, names, aerr := t.groupSelect(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	expand, aerr := parseExpand(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.groups[r.segs[1]]
	if g == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, selectContext("groups", names)+"/$entity"))
	t.appendGroupFields(&o, g, mask, expand)
	return okJSON(200, o.end())
}

// ---- members and memberOf ----

// appendEntity writes a directory object of any kind, with @odata.type.
func (t *Tenant) appendEntity(b []byte, ref memberRef, masks *selMasks) []byte {
	var e obj
	e.begin(b)
	t.appendEntityFields(&e, ref, masks)
	return e.end()
}

func (t *Tenant) appendEntityFields(e *obj, ref memberRef, masks *selMasks) {
	e.str("@odata.type", "#microsoft.graph."+ref.kind.String())
	mask := masks.forKind(ref.kind)
	switch ref.kind {
	case kUser:
		if u := t.users[ref.id]; u != nil {
			userProps.appendObject(e, &u.User, mask, false, 0)
		}
	case kGroup:
		if g := t.groups[ref.id]; g != nil {
			groupProps.appendObject(e, &g.Group, mask, false, 0)
		}
	default:
		if x := t.objects[ref.id]; x != nil {
			objTable(ref.kind).appendObject(e, &x.Object, mask, false, 0)
		}
	}
}

// entityGetter is the filter's view of any directory object.
func (t *Tenant) entityGetter(ref memberRef) getter {
	switch ref.kind {
	case kUser:
		if u := t.users[ref.id]; u != nil {
			return tableGetter(userProps, &u.User)
		}
	case kGroup:
		if g := t.groups[ref.id]; g != nil {
			return tableGetter(groupProps, &g.Group)
		}
	default:
		if x := t.objects[ref.id]; x != nil {
			return tableGetter(objTable(ref.kind), &x.Object)
		}
	}
	return func(string) (fval, bool) { return fval{}, false }
}

func anyTableCheck(name string) bool {
	for _, c := range []propCheck{tableCheck(userProps), tableCheck(groupProps), tableCheck(deviceProps), tableCheck(contactProps), tableCheck(spProps)} {
		if c(name) {
			return true
		}
	}
	return false
}

// listRefs serves a relationship: refs (sorted by id) filtered by an
// optional OData cast segment, $filter and $search, paged, or counted for
// a /$count segment.
func (t *Tenant) listRefs(r *greq, refs []memberRef, tail []string) *gresp {
	var cast objKind
	hasCast, count := false, false
	for _, seg := range tail {
		switch {
		case seg == "$count":
			count = true
		case strings.HasPrefix(seg, "microsoft.graph."):
			k, ok := kindFromName(strings.TrimPrefix(seg, "microsoft.graph."))
			if !ok {
				return r.errorf(t, 400, "BadRequest", "Resource not found for the segment '%s'.", seg)
			}
			cast, hasCast = k, true
		default:
			return r.errorf(t, 400, "BadRequest", "Resource not found for the segment '%s'.", seg)
		}
	}
	if count && !strings.EqualFold(r.header.Get("ConsistencyLevel"), "eventual") {
		return r.errorf(t, 400, codeBadRequest, "$count is not currently supported.")
	}
	if count {
		r.query.Set("$count", "true")
	}
	masks, aerr := parseMixedSelect(r.query.Get("$select"))
	if aerr != nil {
		return r.fail(t, aerr)
	}
	o, aerr := t.parseListOpts(r, anyTableCheck, "DirectoryObject", nil)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	ids := make([]string, len(refs))
	kinds := make(map[string]objKind, len(refs))
	for i, m := range refs {
		ids[i] = m.id
		kinds[m.id] = m.kind
	}
	match := func(id string) bool {
		k := kinds[id]
		if hasCast && k != cast {
			return false
		}
		return o.match(t.entityGetter(memberRef{id, k}))
	}
	if count {
		n := 0
		for _, id := range ids {
			if match(id) {
				n++
			}
		}
		h := http.Header{}
		h.Set("Content-Type", "text/plain")
		return &gresp{status: 200, header: h, body: []byte(strconv.Itoa(n))}
	}
	page, next, total := o.page(ids, match, nil)
	ctx := "directoryObjects"
	if hasCast {
		ctx = cast.String() + "s"
	}
	return writeCollection(r, t, selectContext(ctx, masks.names), o, total, next, func(b []byte) []byte {
		for i, id := range page {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.appendEntity(b, memberRef{id, kinds[id]}, masks)
		}
		return b
	})
}

func (t *Tenant) groupMembers(r *greq) *gresp {
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.groups[r.segs[1]]
	if g == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	refs := g.members
	if r.segs[2] == "transitiveMembers" {
		refs = t.transitiveMembers(g.ID)
	}
	return t.listRefs(r, refs, r.segs[3:])
}

func (t *Tenant) groupRefs(ids []string) []memberRef {
	out := make([]memberRef, 0, len(ids))
	for _, id := range ids {
		if t.groups[id] != nil {
			out = append(out, memberRef{id, kGroup})
		}
	}
	return out
}

func (t *Tenant) userMemberOf(r *greq) *gresp {
	t.mu.RLock()
	defer t.mu.RUnlock()
	u := t.lookupUser(r.segs[1])
	if u == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	ids := u.memberOf
	if r.segs[2] == "transitiveMemberOf" {
		ids = t.transitiveMemberOf(u.ID)
	}
	return t.listRefs(r, t.groupRefs(ids), r.segs[3:])
}

func (t *Tenant) groupMemberOf(r *greq) *gresp {
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.groups[r.segs[1]]
	if g == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	ids := g.memberOf
	if r.segs[2] == "transitiveMemberOf" {
		ids = t.transitiveMemberOf(g.ID)
	}
	return t.listRefs(r, t.groupRefs(ids), r.segs[3:])
}

func (t *Tenant) getDirectoryObject(r *greq) *gresp {
	t.mu.RLock()
	defer t.mu.RUnlock()
	id := r.segs[1]
	k, ok := t.memberKind(id)
	if !ok {
		return r.fail(t, notFound(id))
	}
	masks, aerr := parseMixedSelect(r.query.Get("$select"))
	if aerr != nil {
		return r.fail(t, aerr)
	}
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, "directoryObjects/$entity"))
	t.appendEntityFields(&o, memberRef{id, k}, masks)
	return okJSON(200, o.end())
}

// ---- deleted items ----

func (t *Tenant) listDeleted(r *greq) *gresp {
	kind := strings.TrimPrefix(r.segs[2], "microsoft.graph.")
	if kind != KindUser && kind != KindGroup {
		return r.errorf(t, 400, "BadRequest", "Resource not found for the segment '%s'.", r.segs[2])
	}
	var mask uint64
	var aerr *apiError
	var names []string
	if kind == KindUser {
		mask, names, aerr = t.userSelect(r)
		mask |= userProps.byName["deleteddatetime"].bit
	} else {
		mask, names, aerr = t.groupSelect(r)
	}
	if aerr != nil {
		return r.fail(t, aerr)
	}
	o, aerr := t.parseListOpts(r, func(string) bool { return false }, "DirectoryObject", nil)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var ids []string
	for id, d := range t.deleted {
		if (kind == KindUser) == (d.user != nil) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	page, next, total := o.page(ids, func(string) bool { return true }, nil)
	return writeCollection(r, t, selectContext("directory/deletedItems/microsoft.graph."+kind, names), o, total, next, func(b []byte) []byte {
		for i, id := range page {
			if i > 0 {
				b = append(b, ',')
			}
			d := t.deleted[id]
			var e obj
			e.begin(b)
			if d.user != nil {
				userProps.appendObject(&e, &d.user.User, mask, false, 0)
			} else {
				groupProps.appendObject(&e, &d.group.Group, mask, false, 0)
			}
			b = e.end()
		}
		return b
	})
}

func (t *Tenant) appendDeleted(r *greq, d *deletedRec) *gresp {
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, "directoryObjects/$entity"))
	if d.user != nil {
		o.str("@odata.type", "#microsoft.graph.user")
		userProps.appendObject(&o, &d.user.User, userProps.defMask|userProps.byName["deleteddatetime"].bit, false, 0)
	} else {
		o.str("@odata.type", "#microsoft.graph.group")
		groupProps.appendObject(&o, &d.group.Group, groupProps.defMask, false, 0)
	}
	return okJSON(200, o.end())
}

func (t *Tenant) getDeleted(r *greq) *gresp {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.deleted[r.segs[2]]
	if d == nil {
		return r.fail(t, notFound(r.segs[2]))
	}
	return t.appendDeleted(r, d)
}
