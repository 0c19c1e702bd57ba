package entraemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Graph write endpoints: create, update and delete users and groups, add
// and remove members, restore and purge deleted items. They call the same
// methods as the admin API, so they feed the change log the same way.

// payload decodes a JSON object body into its members.
func payload(r *greq) (map[string]json.RawMessage, *apiError) {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil, &apiError{400, "BadRequest", "Empty Payload. JSON content expected."}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil || m == nil {
		return nil, &apiError{400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."}
	}
	return m, nil
}

// applyProps sets body members on x through the table. Members in skip are
// left to the caller.
func applyProps[T any](tab *propTable[T], x *T, body map[string]json.RawMessage, skip ...string) *apiError {
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.ContainsFunc(skip, func(s string) bool { return strings.EqualFold(s, k) }) || strings.HasPrefix(k, "@odata.") {
			continue
		}
		p := tab.lookup(k)
		if p == nil {
			return &apiError{400, "BadRequest", fmt.Sprintf("Property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type.", k, tab.odataType)}
		}
		if !p.write {
			return &apiError{400, codeBadRequest, fmt.Sprintf("Property '%s' is read-only and cannot be set.", p.name)}
		}
		if err := p.set(x, body[k]); err != nil {
			return &apiError{400, "BadRequest", fmt.Sprintf("Cannot convert the literal for property '%s' to the expected type.", p.name)}
		}
	}
	return nil
}

func requireProps(body map[string]json.RawMessage, resource string, names ...string) *apiError {
	for _, n := range names {
		found := false
		for k, v := range body {
			if strings.EqualFold(k, n) && string(bytes.TrimSpace(v)) != "null" {
				found = true
			}
		}
		if !found {
			return &apiError{400, codeBadRequest, fmt.Sprintf("A value is required for property '%s' of resource '%s'.", n, resource)}
		}
	}
	return nil
}

func (t *Tenant) postUser(r *greq) *gresp {
	body, aerr := payload(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	if aerr := requireProps(body, "User", "accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"); aerr != nil {
		return r.fail(t, aerr)
	}
	var u User
	// passwordProfile is write-only: accepted, never stored or returned.
	if aerr := applyProps(userProps, &u, body, "passwordProfile"); aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.Lock()
	rec, err := t.createUserLocked(u)
	var out []byte
	if err == nil {
		var o obj
		o.begin(nil)
		o.str("@odata.context", t.contextURL(r, "users/$entity"))
		userProps.appendObject(&o, &rec.User, userProps.defMask, false, 0)
		out = o.end()
	}
	t.mu.Unlock()
	if err != nil {
		return r.fail(t, err.(*apiError))
	}
	resp := okJSON(201, out)
	resp.header.Set("Location", r.base+"/v1.0/users/"+rec.ID)
	return resp
}

func (t *Tenant) patchUser(r *greq) *gresp {
	body, aerr := payload(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.lookupUser(r.segs[1])
	if rec == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	next := cloneUser(&rec.User)
	if aerr := applyProps(userProps, &next, body, "passwordProfile"); aerr != nil {
		return r.fail(t, aerr)
	}
	if err := t.applyUserUpdate(rec, next); err != nil {
		return r.fail(t, err.(*apiError))
	}
	return noContent()
}

func (t *Tenant) deleteUser(r *greq) *gresp {
	if err := t.DeleteUser(r.segs[1]); err != nil {
		return r.fail(t, err.(*apiError))
	}
	return noContent()
}

// objectRef extracts the object id from an @odata.id or @odata.bind URL
// such as https://graph.microsoft.com/v1.0/directoryObjects/{id}.
func objectRef(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	segs := splitPath(u.Path)
	if len(segs) == 0 {
		return "", false
	}
	id := segs[len(segs)-1]
	if !isGUID(id) {
		return "", false
	}
	return strings.ToLower(id), true
}

func bindList(body map[string]json.RawMessage, key string) ([]string, *apiError) {
	for k, v := range body {
		if !strings.EqualFold(k, key) {
			continue
		}
		var refs []string
		if err := json.Unmarshal(v, &refs); err != nil {
			return nil, &apiError{400, "BadRequest", fmt.Sprintf("Cannot convert the literal for property '%s' to the expected type.", key)}
		}
		if len(refs) > 20 {
			return nil, &apiError{400, codeBadRequest, "A maximum of 20 members can be added in one request."}
		}
		var ids []string
		for _, ref := range refs {
			id, ok := objectRef(ref)
			if !ok {
				return nil, &apiError{400, codeBadRequest, fmt.Sprintf("Invalid object identifier '%s'.", ref)}
			}
			ids = append(ids, id)
		}
		return ids, nil
	}
	return nil, nil
}

func (t *Tenant) postGroup(r *greq) *gresp {
	body, aerr := payload(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	if aerr := requireProps(body, "Group", "displayName", "mailEnabled", "mailNickname", "securityEnabled"); aerr != nil {
		return r.fail(t, aerr)
	}
	members, aerr := bindList(body, "members@odata.bind")
	if aerr != nil {
		return r.fail(t, aerr)
	}
	var g Group
	if aerr := applyProps(groupProps, &g, body, "members@odata.bind", "owners@odata.bind"); aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.Lock()
	rec, err := t.createGroupLocked(g, members)
	var out []byte
	if err == nil {
		var o obj
		o.begin(nil)
		o.str("@odata.context", t.contextURL(r, "groups/$entity"))
		groupProps.appendObject(&o, &rec.Group, groupProps.defMask, false, 0)
		out = o.end()
	}
	t.mu.Unlock()
	if err != nil {
		return r.fail(t, err.(*apiError))
	}
	resp := okJSON(201, out)
	resp.header.Set("Location", r.base+"/v1.0/groups/"+rec.ID)
	return resp
}

func (t *Tenant) patchGroup(r *greq) *gresp {
	body, aerr := payload(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	members, aerr := bindList(body, "members@odata.bind")
	if aerr != nil {
		return r.fail(t, aerr)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.groups[r.segs[1]]
	if rec == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	next := cloneGroup(&rec.Group)
	if aerr := applyProps(groupProps, &next, body, "members@odata.bind", "owners@odata.bind"); aerr != nil {
		return r.fail(t, aerr)
	}
	for _, m := range members {
		if _, ok := t.memberKind(m); !ok {
			return r.fail(t, notFound(m))
		}
	}
	if err := t.applyGroupUpdate(rec, next); err != nil {
		return r.fail(t, err.(*apiError))
	}
	for _, m := range members {
		if err := t.addMemberByID(rec, m); err != nil {
			return r.fail(t, err.(*apiError))
		}
	}
	return noContent()
}

func (t *Tenant) deleteGroup(r *greq) *gresp {
	if err := t.DeleteGroup(r.segs[1]); err != nil {
		return r.fail(t, err.(*apiError))
	}
	return noContent()
}

func isDynamic(g *groupRec) bool { return slices.Contains(g.GroupTypes, "DynamicMembership") }

func (t *Tenant) postMemberRef(r *greq) *gresp {
	body, aerr := payload(r)
	if aerr != nil {
		return r.fail(t, aerr)
	}
	var ref string
	if raw, ok := body["@odata.id"]; ok {
		json.Unmarshal(raw, &ref)
	}
	id, ok := objectRef(ref)
	if !ok {
		return r.errorf(t, 400, codeBadRequest, "Invalid object identifier '%s'.", ref)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[r.segs[1]]
	if g == nil {
		return r.fail(t, notFound(r.segs[1]))
	}
	if isDynamic(g) {
		return r.errorf(t, 400, codeBadRequest, "Insufficient privileges to complete the operation: members of a group with dynamic membership cannot be added or removed.")
	}
	if err := t.addMemberByID(g, id); err != nil {
		return r.fail(t, err.(*apiError))
	}
	return noContent()
}

func (t *Tenant) deleteMemberRef(r *greq) *gresp {
	t.mu.RLock()
	g := t.groups[r.segs[1]]
	dynamic := g != nil && isDynamic(g)
	t.mu.RUnlock()
	if dynamic {
		return r.errorf(t, 400, codeBadRequest, "Insufficient privileges to complete the operation: members of a group with dynamic membership cannot be added or removed.")
	}
	if err := t.RemoveMember(r.segs[1], r.segs[3]); err != nil {
		return r.fail(t, err.(*apiError))
	}
	return noContent()
}

func (t *Tenant) restoreDeleted(r *greq) *gresp {
	id := r.segs[2]
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.deleted[id]
	if d == nil {
		return r.fail(t, notFound(id))
	}
	var err error
	if d.user != nil {
		_, err = t.restoreUserLocked(id)
	} else {
		_, err = t.restoreGroupLocked(id)
	}
	if err != nil {
		return r.fail(t, err.(*apiError))
	}
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, "directoryObjects/$entity"))
	if d.user != nil {
		o.str("@odata.type", "#microsoft.graph.user")
		userProps.appendObject(&o, &d.user.User, userProps.defMask, false, 0)
	} else {
		o.str("@odata.type", "#microsoft.graph.group")
		groupProps.appendObject(&o, &d.group.Group, groupProps.defMask, false, 0)
	}
	return okJSON(200, o.end())
}

func (t *Tenant) purgeDeleted(r *greq) *gresp {
	id := r.segs[2]
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.deleted[id]
	if d == nil {
		return r.fail(t, notFound(id))
	}
	kind := kUser
	if d.group != nil {
		kind = kGroup
	}
	delete(t.deleted, id)
	t.record(change{kind: kind, id: id, op: opPurge})
	return noContent()
}

// PatchUser sets user properties by their Graph names, as PATCH
// /users/{id} does: {"jobTitle": "Counsel", "mobilePhone": null}. Read-only
// properties are refused.
func (t *Tenant) PatchUser(id string, props map[string]any) error {
	body, err := toRaw(props)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.lookupUser(id)
	if rec == nil {
		return notFound(id)
	}
	next := cloneUser(&rec.User)
	if aerr := applyProps(userProps, &next, body, "passwordProfile"); aerr != nil {
		return aerr
	}
	if aerr := t.applyUserUpdate(rec, next); aerr != nil {
		return aerr
	}
	return nil
}

// PatchGroup sets group properties by their Graph names, as PATCH
// /groups/{id} does.
func (t *Tenant) PatchGroup(id string, props map[string]any) error {
	body, err := toRaw(props)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.groups[id]
	if rec == nil {
		return notFound(id)
	}
	next := cloneGroup(&rec.Group)
	if aerr := applyProps(groupProps, &next, body); aerr != nil {
		return aerr
	}
	if aerr := t.applyGroupUpdate(rec, next); aerr != nil {
		return aerr
	}
	return nil
}

func toRaw(props map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(props))
	for k, v := range props {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("entraemu: property %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}
