package graph

import (
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// Users and groups are served by the same generic code: kind describes
// what differs.
type kind[T any] struct {
	k         *tenant.Kind[T]
	entitySet string   // users, groups
	sortable  []string // what $orderby accepts
	sortKey   func(x *T, orderBy string) string
	expand    []string // what $expand accepts
	// appendExtra writes what an $expand asked for, after the properties.
	appendExtra func(v *tenant.View, e *jsonw.Object, r *tenant.Rec[T], expand string)
}

var users = &kind[model.User]{
	k: tenant.Users, entitySet: "users", sortable: []string{"displayName", "userPrincipalName"},
	sortKey: func(u *model.User, by string) string {
		if by == "userPrincipalName" {
			return u.UserPrincipalName
		}
		return u.DisplayName
	},
	appendExtra: func(*tenant.View, *jsonw.Object, *tenant.Rec[model.User], string) {},
}

var groups = &kind[model.Group]{
	k: tenant.Groups, entitySet: "groups", sortable: []string{"displayName"},
	sortKey:     func(g *model.Group, _ string) string { return g.DisplayName },
	expand:      []string{"members"},
	appendExtra: appendExpandedMembers,
}

// selection parses $select for the kind.
func (k *kind[T]) selection(r *request) (uint64, []string, error) {
	sel := r.query.Get("$select")
	mask, _, err := k.k.Table().SelectMask(sel)
	if err != nil {
		return 0, nil, model.Errorf(400, "BadRequest", "%s", err.Error())
	}
	return mask, k.k.Table().ContextNames(sel), nil
}

func (k *kind[T]) collection() odata.Collection {
	t := k.k.Table()
	return odata.Collection{Resource: t.Resource, Filterable: t.Filterable, Sortable: k.sortable}
}

func list[T any](a *API, r *request, k *kind[T]) *wire.Response {
	mask, names, err := k.selection(r)
	if err != nil {
		return a.fail(r, err)
	}
	q, qerr := odata.ParseQuery(r.query, r.eventual(), k.collection())
	if qerr != nil {
		return a.fail(r, qerr)
	}
	expand, qerr := odata.ParseExpand(r.query.Get("$expand"), k.expand...)
	if qerr != nil {
		return a.fail(r, qerr)
	}
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) {
		t := k.k.Table()
		match := func(id string) bool { return q.Match(t.Getter(&k.k.Get(v, id).Obj)) }
		key := func(id string) string { return k.sortKey(&k.k.Get(v, id).Obj, q.OrderBy) }
		ids, next, total := q.Page(k.k.IDs(v), match, key)
		resp = a.collection(r, odata.ContextFragment(k.entitySet, names), q, total, next, func(b []byte) []byte {
			for i, id := range ids {
				if i > 0 {
					b = append(b, ',')
				}
				var e jsonw.Object
				e.Begin(b)
				rec := k.k.Get(v, id)
				t.Append(&e, &rec.Obj, mask, false, 0)
				k.appendExtra(v, &e, rec, expand)
				b = e.End()
			}
			return b
		})
	})
	return resp
}

func get[T any](a *API, r *request, k *kind[T]) *wire.Response {
	mask, names, err := k.selection(r)
	if err != nil {
		return a.fail(r, err)
	}
	expand, qerr := odata.ParseExpand(r.query.Get("$expand"), k.expand...)
	if qerr != nil {
		return a.fail(r, qerr)
	}
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) {
		rec := k.k.Find(v, r.param("id"))
		if rec == nil {
			resp = a.fail(r, model.NotFound(r.param("id")))
			return
		}
		var o jsonw.Object
		o.Begin(nil)
		o.Str("@odata.context", a.contextURL(r, odata.ContextFragment(k.entitySet, names)+"/$entity"))
		k.k.Table().Append(&o, &rec.Obj, mask, false, 0)
		k.appendExtra(v, &o, rec, expand)
		resp = wire.OK(200, o.End())
	})
	return resp
}

func count[T any](a *API, r *request, k *kind[T]) *wire.Response {
	return a.countCollection(r, k.collection(), func(v *tenant.View, q *odata.Query) int {
		t := k.k.Table()
		return odata.Count(k.k.IDs(v), func(id string) bool { return q.Match(t.Getter(&k.k.Get(v, id).Obj)) })
	})
}

// countCollection serves /$count, which needs ConsistencyLevel: eventual.
func (a *API) countCollection(r *request, c odata.Collection, n func(*tenant.View, *odata.Query) int) *wire.Response {
	if !r.eventual() {
		return a.failf(r, 400, model.CodeBadRequest, "$count is not currently supported.")
	}
	// $filter in a /$count request needs no $count=true: the segment is it.
	r.query.Set("$count", "true")
	q, err := odata.ParseQuery(r.query, true, c)
	if err != nil {
		return a.fail(r, err)
	}
	var total int
	a.dir.Read(func(v *tenant.View) { total = n(v, q) })
	return wire.Text(200, itoa(total))
}

// collection writes the collection envelope around items.
func (a *API) collection(r *request, context string, q *odata.Query, total int, next string, items func(b []byte) []byte) *wire.Response {
	var env jsonw.Object
	env.Begin(make([]byte, 0, 4096))
	env.Str("@odata.context", a.contextURL(r, context))
	if q != nil && q.Count {
		env.Raw("@odata.count", []byte(itoa(total)))
	}
	if next != "" {
		env.Str("@odata.nextLink", odata.NextLink(r.base+"/v1.0", r.path, r.raw, next))
	}
	env.Key("value")
	env.B = append(env.B, '[')
	env.B = items(env.B)
	env.B = append(env.B, ']')
	return wire.OK(200, env.End())
}

// appendExpandedMembers writes $expand=members: at most 20 members inline,
// as Graph returns for an expanded relationship.
func appendExpandedMembers(_ *tenant.View, e *jsonw.Object, g *tenant.Rec[model.Group], expand string) {
	if !strings.EqualFold(expand, "members") {
		return
	}
	e.Key("members")
	e.B = append(e.B, '[')
	for i, m := range g.Members {
		if i == 20 {
			break
		}
		if i > 0 {
			e.B = append(e.B, ',')
		}
		var me jsonw.Object
		me.Begin(e.B)
		me.Str("@odata.type", m.Kind.ODataType())
		me.Str("id", m.ID)
		e.B = me.End()
	}
	e.B = append(e.B, ']')
}

func (a *API) listUsers(r *request) *wire.Response   { return list(a, r, users) }
func (a *API) listGroups(r *request) *wire.Response  { return list(a, r, groups) }
func (a *API) getUser(r *request) *wire.Response     { return get(a, r, users) }
func (a *API) getGroup(r *request) *wire.Response    { return get(a, r, groups) }
func (a *API) countUsers(r *request) *wire.Response  { return count(a, r, users) }
func (a *API) countGroups(r *request) *wire.Response { return count(a, r, groups) }
