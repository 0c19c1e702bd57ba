package graph

import (
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
	"github.com/dirsync/dirsync/internal/entraemu/schema"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// Relationships (members, memberOf and their transitive forms) list
// directory objects of any kind, with an optional OData cast segment
// (/members/microsoft.graph.user) and /$count.

func itoa(n int) string { return strconv.Itoa(n) }

// appendEntity writes a directory object of any kind, with @odata.type.
func appendEntity(v *tenant.View, e *jsonw.Object, ref model.Ref, sel *schema.Select) {
	e.Str("@odata.type", ref.Kind.ODataType())
	mask := sel.Mask(ref.Kind)
	switch ref.Kind {
	case model.ObjUser:
		if u := tenant.Users.Get(v, ref.ID); u != nil {
			schema.Users.Append(e, &u.Obj, mask, false, 0)
		}
	case model.ObjGroup:
		if g := tenant.Groups.Get(v, ref.ID); g != nil {
			schema.Groups.Append(e, &g.Obj, mask, false, 0)
		}
	default:
		if x := v.Object(ref.ID); x != nil {
			schema.ForObject(ref.Kind).Append(e, &x.Obj, mask, false, 0)
		}
	}
}

// entityGetter is the filter's view of any directory object.
func entityGetter(v *tenant.View, ref model.Ref) odata.Getter {
	switch ref.Kind {
	case model.ObjUser:
		if u := tenant.Users.Get(v, ref.ID); u != nil {
			return schema.Users.Getter(&u.Obj)
		}
	case model.ObjGroup:
		if g := tenant.Groups.Get(v, ref.ID); g != nil {
			return schema.Groups.Getter(&g.Obj)
		}
	default:
		if x := v.Object(ref.ID); x != nil {
			return schema.ForObject(ref.Kind).Getter(&x.Obj)
		}
	}
	return odata.NoProperties
}

// refTail is what follows a relationship: an optional cast and /$count.
type refTail struct {
	cast    model.ObjKind
	hasCast bool
	count   bool
}

func parseRefTail(rest string) (refTail, *model.Error) {
	var t refTail
	if rest == "" {
		return t, nil
	}
	segs := strings.Split(rest, "/")
	if len(segs) > 2 {
		return t, model.Errorf(400, "BadRequest", "Resource not found for the segment '%s'.", segs[len(segs)-1])
	}
	for _, seg := range segs {
		switch {
		case seg == "$count" && !t.count:
			t.count = true
		case strings.HasPrefix(seg, "microsoft.graph.") && !t.hasCast && !t.count:
			k, ok := model.KindFromName(strings.TrimPrefix(seg, "microsoft.graph."))
			if !ok {
				return t, model.Errorf(400, "BadRequest", "Resource not found for the segment '%s'.", seg)
			}
			t.cast, t.hasCast = k, true
		default:
			return t, model.Errorf(400, "BadRequest", "Resource not found for the segment '%s'.", seg)
		}
	}
	return t, nil
}

// listRefs serves a relationship: refs (sorted by id) filtered by the
// cast, $filter and $search, paged, or counted.
func (a *API) listRefs(r *request, v *tenant.View, refs []model.Ref) *wire.Response {
	tail, err := parseRefTail(r.param("rest"))
	if err != nil {
		return a.fail(r, err)
	}
	if tail.count {
		if !r.eventual() {
			return a.failf(r, 400, model.CodeBadRequest, "$count is not currently supported.")
		}
		r.query.Set("$count", "true")
	}
	sel, err := schema.ParseMixedSelect(r.query.Get("$select"))
	if err != nil {
		return a.fail(r, err)
	}
	q, err := odata.ParseQuery(r.query, r.eventual(), odata.Collection{Resource: "DirectoryObject", Filterable: schema.AnyFilterable})
	if err != nil {
		return a.fail(r, err)
	}
	ids := make([]string, len(refs))
	kinds := make(map[string]model.ObjKind, len(refs))
	for i, m := range refs {
		ids[i], kinds[m.ID] = m.ID, m.Kind
	}
	match := func(id string) bool {
		k := kinds[id]
		return (!tail.hasCast || k == tail.cast) && q.Match(entityGetter(v, model.Ref{ID: id, Kind: k}))
	}
	if tail.count {
		return wire.Text(200, itoa(odata.Count(ids, match)))
	}
	page, next, total := q.Page(ids, match, nil)
	ctx := "directoryObjects"
	if tail.hasCast {
		ctx = tail.cast.String() + "s"
	}
	return a.collection(r, odata.ContextFragment(ctx, sel.Names), q, total, next, func(b []byte) []byte {
		for i, id := range page {
			if i > 0 {
				b = append(b, ',')
			}
			var e jsonw.Object
			e.Begin(b)
			appendEntity(v, &e, model.Ref{ID: id, Kind: kinds[id]}, sel)
			b = e.End()
		}
		return b
	})
}

// transitive reports whether the request is for a transitive relationship.
func transitive(r *request) bool { return strings.Contains(r.path, "/transitive") }

func (a *API) groupMembers(r *request) *wire.Response {
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) {
		g := tenant.Groups.Get(v, r.param("id"))
		if g == nil {
			resp = a.fail(r, model.NotFound(r.param("id")))
			return
		}
		refs := g.Members
		if transitive(r) {
			refs = v.TransitiveMembers(g.Obj.ID)
		}
		resp = a.listRefs(r, v, refs)
	})
	return resp
}

func groupRefs(v *tenant.View, ids []string) []model.Ref {
	out := make([]model.Ref, 0, len(ids))
	for _, id := range ids {
		if tenant.Groups.Get(v, id) != nil {
			out = append(out, model.Ref{ID: id, Kind: model.ObjGroup})
		}
	}
	return out
}

// memberOf serves memberOf and transitiveMemberOf of the object find
// finds by key.
func memberOf[T any](a *API, r *request, k *tenant.Kind[T]) *wire.Response {
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) {
		rec := k.Find(v, r.param("id"))
		if rec == nil {
			resp = a.fail(r, model.NotFound(r.param("id")))
			return
		}
		ids := rec.MemberOf()
		if transitive(r) {
			ids = v.TransitiveMemberOf(k.Table().ID(&rec.Obj))
		}
		resp = a.listRefs(r, v, groupRefs(v, ids))
	})
	return resp
}

func (a *API) userMemberOf(r *request) *wire.Response  { return memberOf(a, r, tenant.Users) }
func (a *API) groupMemberOf(r *request) *wire.Response { return memberOf(a, r, tenant.Groups) }

func (a *API) getDirectoryObject(r *request) *wire.Response {
	sel, err := schema.ParseMixedSelect(r.query.Get("$select"))
	if err != nil {
		return a.fail(r, err)
	}
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) {
		id := r.param("id")
		k, ok := v.MemberKind(id)
		if !ok {
			resp = a.fail(r, model.NotFound(id))
			return
		}
		var o jsonw.Object
		o.Begin(nil)
		o.Str("@odata.context", a.contextURL(r, "directoryObjects/$entity"))
		appendEntity(v, &o, model.Ref{ID: id, Kind: k}, sel)
		resp = wire.OK(200, o.End())
	})
	return resp
}
