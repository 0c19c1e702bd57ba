package graph

import (
	"crypto/sha256"
	"slices"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
	"github.com/dirsync/dirsync/internal/entraemu/schema"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// The directory endpoints sync clients call besides users and groups:
// service principals, devices and organizational contacts (each a kind of
// the directory, with delta), applications (the tenant's registrations of
// the apps whose service principals it owns) and activated directory roles.

func displayNameKey(o *model.Object, _ string) string { return o.DisplayName }

func noExtra(*tenant.View, *jsonw.Object, *tenant.Rec[model.Object], string) {}

var (
	servicePrincipals = &kind[model.Object]{k: tenant.ServicePrincipals, entitySet: "servicePrincipals", sortable: []string{"displayName"}, sortKey: displayNameKey, appendExtra: noExtra}
	devices           = &kind[model.Object]{k: tenant.Devices, entitySet: "devices", sortable: []string{"displayName"}, sortKey: displayNameKey, appendExtra: noExtra}
	contacts          = &kind[model.Object]{k: tenant.Contacts, entitySet: "contacts", sortable: []string{"displayName"}, sortKey: displayNameKey, appendExtra: noExtra}
)

func (a *API) listServicePrincipals(r *request) *wire.Response { return list(a, r, servicePrincipals) }
func (a *API) getServicePrincipal(r *request) *wire.Response   { return get(a, r, servicePrincipals) }
func (a *API) countServicePrincipals(r *request) *wire.Response {
	return count(a, r, servicePrincipals)
}
func (a *API) listDevices(r *request) *wire.Response   { return list(a, r, devices) }
func (a *API) getDevice(r *request) *wire.Response     { return get(a, r, devices) }
func (a *API) countDevices(r *request) *wire.Response  { return count(a, r, devices) }
func (a *API) listContacts(r *request) *wire.Response  { return list(a, r, contacts) }
func (a *API) getContact(r *request) *wire.Response    { return get(a, r, contacts) }
func (a *API) countContacts(r *request) *wire.Response { return count(a, r, contacts) }

func (a *API) servicePrincipalMemberOf(r *request) *wire.Response {
	return memberOf(a, r, tenant.ServicePrincipals)
}
func (a *API) deviceMemberOf(r *request) *wire.Response  { return memberOf(a, r, tenant.Devices) }
func (a *API) contactMemberOf(r *request) *wire.Response { return memberOf(a, r, tenant.Contacts) }

// derivedID is a stable object id for an object the emulator derives from
// another: an application from its service principal, a role from its
// template.
func derivedID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return model.FormatGUID(b)
}

// applications are the tenant's app registrations, in id order.
func (a *API) applications() []model.Object {
	org := a.dir.Org()
	var out []model.Object
	for _, sp := range tenant.ServicePrincipals.List(a.dir) {
		if sp.AppOwnerOrganizationID != org.ID {
			continue
		}
		out = append(out, model.Object{
			ID: derivedID("application:" + sp.AppID), Kind: "application", DisplayName: sp.DisplayName, AppID: sp.AppID,
			PublisherDomain: org.Domain, ServicePrincipalNames: []string{"api://" + sp.AppID}, CreatedDateTime: sp.CreatedDateTime,
		})
	}
	slices.SortFunc(out, func(x, y model.Object) int { return cmpString(x.ID, y.ID) })
	return out
}

// Directory roles activated in the tenant, by their template ids ("Microsoft
// Entra built-in roles").
var roleTemplates = []model.Object{
	{RoleTemplateID: "62e90394-69f5-4237-9190-012177145e10", DisplayName: "Global Administrator", Description: "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."},
	{RoleTemplateID: "fe930be7-5e62-47db-91af-98c3a49a38b1", DisplayName: "User Administrator", Description: "Can manage all aspects of users and groups, including resetting passwords for limited admins."},
	{RoleTemplateID: "88d8e3e3-8f55-4a1e-953a-9b9898b8876b", DisplayName: "Directory Readers", Description: "Can read basic directory information. Commonly used to grant directory read access to applications and guests."},
}

func (a *API) directoryRoles() []model.Object {
	out := make([]model.Object, len(roleTemplates))
	for i, t := range roleTemplates {
		t.ID, t.Kind = derivedID("role:"+a.dir.ID()+":"+t.RoleTemplateID), "directoryRole"
		out[i] = t
	}
	slices.SortFunc(out, func(x, y model.Object) int { return cmpString(x.ID, y.ID) })
	return out
}

// listDerived serves a collection of derived objects with $select,
// $filter, $search, $top and $count; query says whether OData query
// options apply (directoryRoles takes none).
func (a *API) listDerived(r *request, set string, t *schema.Table[model.Object], objs []model.Object, query bool) *wire.Response {
	sel := ""
	if query {
		sel = r.query.Get("$select")
	}
	mask, _, err := t.SelectMask(sel)
	if err != nil {
		return a.failf(r, 400, "BadRequest", "%s", err.Error())
	}
	q := &odata.Query{Top: odata.MaxTop}
	if query {
		var qerr *model.Error
		if q, qerr = odata.ParseQuery(r.query, r.eventual(), odata.Collection{Resource: t.Resource, Filterable: t.Filterable, Sortable: []string{"displayName"}}); qerr != nil {
			return a.fail(r, qerr)
		}
	}
	byID := map[string]*model.Object{}
	ids := make([]string, len(objs))
	for i := range objs {
		ids[i], byID[objs[i].ID] = objs[i].ID, &objs[i]
	}
	match := func(id string) bool { return q.Match(t.Getter(byID[id])) }
	page, next, total := q.Page(ids, match, func(id string) string { return byID[id].DisplayName })
	return a.collection(r, odata.ContextFragment(set, t.ContextNames(sel)), q, total, next, func(b []byte) []byte {
		for i, id := range page {
			if i > 0 {
				b = append(b, ',')
			}
			var e jsonw.Object
			e.Begin(b)
			t.Append(&e, byID[id], mask, false, 0)
			b = e.End()
		}
		return b
	})
}

// getDerived serves one derived object by id.
func (a *API) getDerived(r *request, set string, t *schema.Table[model.Object], objs []model.Object) *wire.Response {
	id := r.param("id")
	i := slices.IndexFunc(objs, func(o model.Object) bool { return o.ID == id || o.AppID == id && o.AppID != "" })
	if i < 0 {
		return a.fail(r, model.NotFound(id))
	}
	mask, _, err := t.SelectMask(r.query.Get("$select"))
	if err != nil {
		return a.failf(r, 400, "BadRequest", "%s", err.Error())
	}
	var o jsonw.Object
	o.Begin(nil)
	o.Str("@odata.context", a.contextURL(r, odata.ContextFragment(set, t.ContextNames(r.query.Get("$select")))+"/$entity"))
	t.Append(&o, &objs[i], mask, false, 0)
	return wire.OK(200, o.End())
}

func (a *API) listApplications(r *request) *wire.Response {
	return a.listDerived(r, "applications", schema.Applications, a.applications(), true)
}

func (a *API) getApplication(r *request) *wire.Response {
	return a.getDerived(r, "applications", schema.Applications, a.applications())
}

func (a *API) countApplications(r *request) *wire.Response {
	apps := a.applications()
	t := schema.Applications
	return a.countCollection(r, odata.Collection{Resource: t.Resource, Filterable: t.Filterable}, func(_ *tenant.View, q *odata.Query) int {
		n := 0
		for i := range apps {
			if q.Match(t.Getter(&apps[i])) {
				n++
			}
		}
		return n
	})
}

func (a *API) listDirectoryRoles(r *request) *wire.Response {
	return a.listDerived(r, "directoryRoles", schema.DirectoryRoles, a.directoryRoles(), false)
}

func (a *API) getDirectoryRole(r *request) *wire.Response {
	return a.getDerived(r, "directoryRoles", schema.DirectoryRoles, a.directoryRoles())
}

// directoryRoleMembers lists a role's members: the tenant's first enabled
// member user holds Global Administrator; the other roles have none.
func (a *API) directoryRoleMembers(r *request) *wire.Response {
	roles := a.directoryRoles()
	i := slices.IndexFunc(roles, func(o model.Object) bool { return o.ID == r.param("id") })
	if i < 0 {
		return a.fail(r, model.NotFound(r.param("id")))
	}
	var resp *wire.Response
	a.dir.Read(func(v *tenant.View) {
		var refs []model.Ref
		if roles[i].RoleTemplateID == roleTemplates[0].RoleTemplateID {
			for _, id := range tenant.Users.IDs(v) {
				if u := tenant.Users.Get(v, id).Obj; u.AccountEnabled && u.UserType == "Member" {
					refs = append(refs, model.Ref{ID: id, Kind: model.ObjUser})
					break
				}
			}
		}
		resp = a.listRefs(r, v, refs)
	})
	return resp
}
