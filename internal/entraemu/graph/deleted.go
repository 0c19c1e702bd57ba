package graph

import (
	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// Deleted items: /directory/deletedItems/microsoft.graph.user (or .group)
// lists them, /directory/deletedItems/{id} gets, restores or purges one.

func listDeleted[T any](a *API, r *request, k *kind[T], extra uint64) *wire.Response {
	mask, names, err := k.selection(r)
	if err != nil {
		return a.fail(r, err)
	}
	mask |= extra
	q, qerr := odata.ParseQuery(r.query, r.eventual(), odata.Collection{Resource: "DirectoryObject", Filterable: func(string) bool { return false }})
	if qerr != nil {
		return a.fail(r, qerr)
	}
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) {
		page, next, total := q.Page(k.k.DeletedIDs(v), func(string) bool { return true }, nil)
		ctx := odata.ContextFragment("directory/deletedItems/microsoft.graph."+k.entitySet[:len(k.entitySet)-1], names)
		resp = a.collection(r, ctx, q, total, next, func(b []byte) []byte {
			for i, id := range page {
				if i > 0 {
					b = append(b, ',')
				}
				var e jsonw.Object
				e.Begin(b)
				k.k.Table().Append(&e, &k.k.Deleted(v, id).Obj, mask, false, 0)
				b = e.End()
			}
			return b
		})
	})
	return resp
}

func (a *API) listDeletedUsers(r *request) *wire.Response {
	return listDeleted(a, r, users, tenant.Users.Table().Bit("deletedDateTime"))
}

func (a *API) listDeletedGroups(r *request) *wire.Response { return listDeleted(a, r, groups, 0) }

// deletedEntity writes an object of deleted items with its type.
func (a *API) deletedEntity(r *request, v *tenant.View, id string) *wire.Response {
	var o jsonw.Object
	o.Begin(nil)
	o.Str("@odata.context", a.contextURL(r, "directoryObjects/$entity"))
	if u := tenant.Users.Deleted(v, id); u != nil {
		o.Str("@odata.type", "#microsoft.graph.user")
		t := tenant.Users.Table()
		t.Append(&o, &u.Obj, t.DefMask|t.Bit("deletedDateTime"), false, 0)
	} else if g := tenant.Groups.Deleted(v, id); g != nil {
		o.Str("@odata.type", "#microsoft.graph.group")
		t := tenant.Groups.Table()
		t.Append(&o, &g.Obj, t.DefMask, false, 0)
	} else {
		return a.fail(r, model.NotFound(id))
	}
	return wire.OK(200, o.End())
}

func (a *API) getDeleted(r *request) *wire.Response {
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) { resp = a.deletedEntity(r, v, r.param("id")) })
	return resp
}

func (a *API) restoreDeleted(r *request) *wire.Response {
	id := r.param("id")
	var resp *wire.Response
	err := a.dir.Write(func(tx *tenant.Tx) error {
		kind, err := tx.Restore(id)
		if err != nil {
			return err
		}
		var o jsonw.Object
		o.Begin(nil)
		o.Str("@odata.context", a.contextURL(r, "directoryObjects/$entity"))
		o.Str("@odata.type", kind.ODataType())
		if kind == model.ObjUser {
			schema := tenant.Users.Table()
			schema.Append(&o, &tenant.Users.Get(&tx.View, id).Obj, schema.DefMask, false, 0)
		} else {
			schema := tenant.Groups.Table()
			schema.Append(&o, &tenant.Groups.Get(&tx.View, id).Obj, schema.DefMask, false, 0)
		}
		resp = wire.OK(200, o.End())
		return nil
	})
	if err != nil {
		return a.fail(r, err)
	}
	return resp
}

func (a *API) purgeDeleted(r *request) *wire.Response {
	if err := a.dir.Write(func(tx *tenant.Tx) error { return tx.PurgeDeleted(r.param("id")) }); err != nil {
		return a.fail(r, err)
	}
	return wire.NoContent()
}
