package graph

import (
	"slices"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
)

// pager fills one delta page: entries up to its limit, and member
// references up to its budget, past which a group's members continue in
// an entry of the next page.
type pager struct {
	b               []byte
	entries, limit  int
	refs, budget    int
	cursor, mcursor string // the last object written, and its last member when unfinished
	more            bool
	to              uint64 // incremental rounds: the round's end
}

func (a *API) newPager(kind string) *pager {
	users, groups, members := a.pageSizes()
	p := &pager{b: make([]byte, 0, 64<<10), limit: users, budget: members}
	if kind == "groups" {
		p.limit = groups
	}
	return p
}

// entry is one object of a delta page.
type entry struct {
	id      string
	removed string              // "" or the @removed reason: changed (in deleted items) or deleted
	write   func(*jsonw.Object) // writes the object's properties
	members []model.Ref         // sorted by id: the group's, not copied
	// gone reports whether a member in members was removed; nil when none
	// was (the initial round).
	gone func(id string) bool
}

// add writes e, starting after member after when e resumes an unfinished
// entry. It reports false when the page ended before or inside e.
func (p *pager) add(e entry, after string) bool {
	members := e.members
	if after != "" {
		k, found := slices.BinarySearchFunc(members, after, func(m model.Ref, id string) int { return cmpString(m.ID, id) })
		if found {
			k++
		}
		members = members[k:]
	}
	if len(members) > 0 && p.refs >= p.budget {
		return false
	}
	partial := false
	if room := p.budget - p.refs; len(members) > room {
		members, partial = members[:room], true
	}
	if p.entries > 0 {
		p.b = append(p.b, ',')
	}
	var o jsonw.Object
	o.Begin(p.b)
	if e.removed != "" {
		o.Str("id", e.id)
		o.Raw("@removed", []byte(`{"reason":"`+e.removed+`"}`))
	} else {
		e.write(&o)
		appendMembersDelta(&o, members, e.gone)
	}
	p.b = o.End()
	p.entries++
	p.refs += len(members)
	p.cursor, p.mcursor = e.id, ""
	if partial {
		p.mcursor = members[len(members)-1].ID
		return false
	}
	return true
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func appendMembersDelta(o *jsonw.Object, members []model.Ref, gone func(string) bool) {
	if len(members) == 0 {
		return
	}
	o.Key("members@delta")
	o.B = append(o.B, '[')
	for k, m := range members {
		if k > 0 {
			o.B = append(o.B, ',')
		}
		var e jsonw.Object
		e.Begin(o.B)
		e.Str("@odata.type", m.Kind.ODataType())
		e.Str("id", m.ID)
		if gone != nil && gone(m.ID) {
			e.Raw("@removed", []byte(`{"reason":"deleted"}`))
		}
		o.B = e.End()
	}
	o.B = append(o.B, ']')
}

// fill adds the entries of ids (sorted) from where the token left off,
// until the page is full or ids end.
func (p *pager) fill(ids idStream, st *deltaState, entryOf func(id string) entry) {
	first := true
	for p.entries < p.limit {
		id, ok := ids.next()
		if !ok {
			return
		}
		after := ""
		if first && id == st.Cursor {
			after = st.MCursor // only the first object can resume mid-way
		}
		first = false
		if !p.add(entryOf(id), after) {
			p.more = true
			return
		}
	}
	p.more = ids.remaining()
}

// idStream merges two sorted id lists, starting after a cursor.
type idStream struct {
	a, b []string
	i, j int
}

// newIDStream starts a after cursor, or at cursor itself when that object
// is unfinished (mcursor set); b (removed objects, never unfinished)
// starts after cursor.
func newIDStream(a, b []string, cursor, mcursor string) idStream {
	return idStream{a: a, b: b, i: startIndex(a, cursor, mcursor), j: startIndex(b, cursor, "")}
}

func startIndex(ids []string, cursor, mcursor string) int {
	if cursor == "" {
		return 0
	}
	i, found := slices.BinarySearch(ids, cursor)
	if found && mcursor == "" {
		i++
	}
	return i
}

func (s *idStream) next() (string, bool) {
	switch {
	case s.j < len(s.b) && (s.i == len(s.a) || s.b[s.j] < s.a[s.i]):
		s.j++
		return s.b[s.j-1], true
	case s.i < len(s.a):
		s.i++
		return s.a[s.i-1], true
	}
	return "", false
}

func (s *idStream) remaining() bool { return s.i < len(s.a) || s.j < len(s.b) }

// restrict keeps the ids of filter (sorted) that are in ids (sorted); a nil
// filter keeps them all.
func restrict(ids, filter []string) []string {
	if filter == nil {
		return ids
	}
	var out []string
	for _, id := range filter {
		if _, ok := slices.BinarySearch(ids, id); ok {
			out = append(out, id)
		}
	}
	return out
}

// snapshotPage is a page of the initial round: current objects in id
// order, and the objects in deleted items as @removed with reason
// "changed", as the documented initial response shows.
func snapshotPage[T any](v *tenant.View, p *pager, k *deltaKind[T], st *deltaState, mask uint64) {
	active := restrict(k.k.IDs(v), st.IDs)
	gone := restrict(k.k.DeletedIDs(v), st.IDs)
	table := k.k.Table()
	p.fill(newIDStream(active, gone, st.Cursor, st.MCursor), st, func(id string) entry {
		rec := k.k.Get(v, id)
		if rec == nil {
			return entry{id: id, removed: "changed"}
		}
		e := entry{id: id, write: func(o *jsonw.Object) { table.Append(o, &rec.Obj, mask, true, rec.EverSet) }}
		if st.Members {
			e.members = k.members(rec)
		}
		return e
	})
}

// changesPage is a page of an incremental round: the objects changed
// between st.From and the round's end, in id order, as they are now.
func changesPage[T any](v *tenant.View, p *pager, k *deltaKind[T], st *deltaState, mask uint64, minimal bool) {
	table := k.k.Table()
	// With $select only the selected properties are tracked; without it,
	// every property is, though the default set is what is returned.
	track := mask
	if st.Sel == "" {
		track = table.AllMask
	}
	p.to = st.To
	if p.to == 0 {
		p.to = v.Seq()
	}
	changes := v.Changes(k.k.Obj(), st.From, p.to)
	var ids []string
	for id, c := range changes {
		if c.Created || c.Removed || c.Props&track != 0 || (st.Members && len(c.Members) > 0) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = restrict(ids, st.IDs)
	p.fill(newIDStream(ids, nil, st.Cursor, st.MCursor), st, func(id string) entry {
		return changeEntry(v, k, id, changes[id], st.Members, mask, minimal)
	})
}

// changeEntry is an object changed in an incremental round: removed (in
// deleted items, or gone), or its properties (only the changed ones with
// Prefer: return=minimal) and its member changes.
func changeEntry[T any](v *tenant.View, k *deltaKind[T], id string, c *tenant.Change, members bool, mask uint64, minimal bool) entry {
	rec := k.k.Get(v, id)
	if rec == nil {
		if k.k.Deleted(v, id) != nil {
			return entry{id: id, removed: "changed"}
		}
		return entry{id: id, removed: "deleted"}
	}
	table := k.k.Table()
	propMask, omit := mask, true
	if minimal && !c.Created {
		propMask, omit = (c.Props&mask)|table.IDBit(), false
	}
	e := entry{id: id, write: func(o *jsonw.Object) { table.Append(o, &rec.Obj, propMask, omit, rec.EverSet) }}
	if !members || len(c.Members) == 0 {
		return e
	}
	current := k.members(rec)
	for mid, kind := range c.Members {
		e.members = append(e.members, model.Ref{ID: mid, Kind: kind})
	}
	slices.SortFunc(e.members, func(a, b model.Ref) int { return cmpString(a.ID, b.ID) })
	e.gone = func(id string) bool {
		_, isMember := slices.BinarySearchFunc(current, id, func(m model.Ref, id string) int { return cmpString(m.ID, id) })
		return !isMember
	}
	return e
}
