package graph

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/schema"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// Graph write endpoints: create, update and delete users and groups, add
// and remove members. They go through the same tenant.Tx methods as the
// admin API, so they feed the change log the same way.

// payload decodes a JSON object body into its members.
func payload(r *request) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil, model.Errorf(400, "BadRequest", "Empty Payload. JSON content expected.")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil || m == nil {
		return nil, model.Errorf(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return m, nil
}

func requireProps(body map[string]json.RawMessage, resource string, names ...string) error {
	for _, n := range names {
		found := false
		for k, v := range body {
			if strings.EqualFold(k, n) && string(bytes.TrimSpace(v)) != "null" {
				found = true
			}
		}
		if !found {
			return model.BadRequest("A value is required for property '%s' of resource '%s'.", n, resource)
		}
	}
	return nil
}

// created answers 201 with the new object's default properties.
func created[T any](a *API, r *request, k *kind[T], rec *tenant.Rec[T]) *wire.Response {
	t := k.k.Table()
	var o jsonw.Object
	o.Begin(nil)
	o.Str("@odata.context", a.contextURL(r, k.entitySet+"/$entity"))
	t.Append(&o, &rec.Obj, t.DefMask, false, 0)
	resp := wire.OK(201, o.End())
	resp.Header.Set("Location", r.base+"/v1.0/"+k.entitySet+"/"+t.ID(&rec.Obj))
	return resp
}

func (a *API) postUser(r *request) *wire.Response {
	body, err := payload(r)
	if err == nil {
		err = requireProps(body, "User", "accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile")
	}
	var u model.User
	if err == nil {
		// passwordProfile is write-only: checked, never stored or returned.
		err = schema.Users.Apply(&u, body, "passwordProfile")
	}
	if err == nil {
		err = checkPasswordProfile(body, &u)
	}
	if err != nil {
		return a.fail(r, err)
	}
	var resp *wire.Response
	err = a.dir.Write(func(tx *tenant.Tx) error {
		rec, err := tx.CreateUser(u)
		if err == nil {
			resp = created(a, r, users, rec)
		}
		return err
	})
	if err != nil {
		return a.fail(r, err)
	}
	return resp
}

// binder checks the relationship binds of a PATCH body before any change,
// and returns what makes them after the properties are set.
type binder[T any] func(tx *tenant.Tx, rec *tenant.Rec[T], body map[string]json.RawMessage) (func() error, error)

// patch applies a PATCH body to the object the path names.
func patch[T any](a *API, r *request, k *kind[T], binds binder[T]) *wire.Response {
	body, err := payload(r)
	if err != nil {
		return a.fail(r, err)
	}
	err = a.dir.Write(func(tx *tenant.Tx) error {
		rec := k.k.Find(&tx.View, r.param("id"))
		if rec == nil {
			return model.NotFound(r.param("id"))
		}
		bind, err := binds(tx, rec, body)
		if err != nil {
			return err
		}
		if err := k.k.PatchRec(tx, rec, body); err != nil {
			return err
		}
		return bind()
	})
	if err != nil {
		return a.fail(r, err)
	}
	return wire.NoContent()
}

func (a *API) patchUser(r *request) *wire.Response {
	return patch(a, r, users, func(_ *tenant.Tx, rec *tenant.Rec[model.User], body map[string]json.RawMessage) (func() error, error) {
		if member(body, "passwordProfile") != nil {
			next := rec.Obj.Clone()
			if err := schema.Users.Apply(&next, body, "passwordProfile"); err != nil {
				return nil, err
			}
			if err := checkPasswordProfile(body, &next); err != nil {
				return nil, err
			}
		}
		return func() error { return nil }, nil
	})
}

// member returns a body member by name, case-insensitively.
func member(body map[string]json.RawMessage, name string) json.RawMessage {
	for k, v := range body {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// checkPasswordProfile checks a body's passwordProfile: it has a password,
// and the password meets Entra's policy for user u.
func checkPasswordProfile(body map[string]json.RawMessage, u *model.User) error {
	raw := member(body, "passwordProfile")
	if raw == nil {
		return nil
	}
	var p struct {
		Password                             *string `json:"password"`
		ForceChangePasswordNextSignIn        *bool   `json:"forceChangePasswordNextSignIn"`
		ForceChangePasswordNextSignInWithMfa *bool   `json:"forceChangePasswordNextSignInWithMfa"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return model.Errorf(400, "BadRequest", "Cannot convert the literal for property 'passwordProfile' to the expected type.")
	}
	if p.Password == nil || *p.Password == "" {
		return model.BadRequest("A value is required for property 'password' of resource 'PasswordProfile'.")
	}
	strong := !strings.Contains(u.PasswordPolicies, "DisableStrongPassword")
	return tenant.CheckPassword(*p.Password, u.UserPrincipalName, strong)
}

func (a *API) deleteUser(r *request) *wire.Response {
	if err := a.dir.Write(func(tx *tenant.Tx) error { return tx.DeleteUser(r.param("id")) }); err != nil {
		return a.fail(r, err)
	}
	return wire.NoContent()
}

// objectRef extracts the object id from an @odata.id or @odata.bind URL
// such as https://graph.microsoft.com/v1.0/directoryObjects/{id}.
func objectRef(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	id := segs[len(segs)-1]
	if !model.IsGUID(id) {
		return "", false
	}
	return strings.ToLower(id), true
}

// bindList reads the ids of a members@odata.bind list (at most 20).
func bindList(body map[string]json.RawMessage, key string) ([]string, error) {
	for k, v := range body {
		if !strings.EqualFold(k, key) {
			continue
		}
		var refs []string
		if err := json.Unmarshal(v, &refs); err != nil {
			return nil, model.Errorf(400, "BadRequest", "Cannot convert the literal for property '%s' to the expected type.", key)
		}
		if len(refs) > 20 {
			return nil, model.BadRequest("A maximum of 20 members can be added in one request.")
		}
		var ids []string
		for _, ref := range refs {
			id, ok := objectRef(ref)
			if !ok {
				return nil, model.BadRequest("Invalid object identifier '%s'.", ref)
			}
			ids = append(ids, id)
		}
		return ids, nil
	}
	return nil, nil
}

func (a *API) postGroup(r *request) *wire.Response {
	body, err := payload(r)
	if err == nil {
		err = requireProps(body, "Group", "displayName", "mailEnabled", "mailNickname", "securityEnabled")
	}
	var members []string
	if err == nil {
		members, err = bindList(body, "members@odata.bind")
	}
	var g model.Group
	if err == nil {
		err = schema.Groups.Apply(&g, body, "members@odata.bind", "owners@odata.bind")
	}
	if err == nil && g.MailEnabled && !g.IsUnified() {
		// Graph creates security groups and Microsoft 365 groups only;
		// distribution lists and mail-enabled security groups are
		// Exchange's.
		err = errMailEnabledWrite
	}
	if err != nil {
		return a.fail(r, err)
	}
	var resp *wire.Response
	err = a.dir.Write(func(tx *tenant.Tx) error {
		rec, err := tx.CreateGroup(g, members)
		if err == nil {
			resp = created(a, r, groups, rec)
		}
		return err
	})
	if err != nil {
		return a.fail(r, err)
	}
	return resp
}

func (a *API) patchGroup(r *request) *wire.Response {
	return patch(a, r, groups, func(tx *tenant.Tx, rec *tenant.Rec[model.Group], body map[string]json.RawMessage) (func() error, error) {
		members, err := bindList(body, "members@odata.bind")
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if _, ok := tx.MemberKind(m); !ok {
				return nil, model.NotFound(m)
			}
		}
		return func() error {
			for _, m := range members {
				if err := tx.AddMember(rec, m); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
}

func (a *API) deleteGroup(r *request) *wire.Response {
	if err := a.dir.Write(func(tx *tenant.Tx) error { return tx.DeleteGroup(r.param("id")) }); err != nil {
		return a.fail(r, err)
	}
	return wire.NoContent()
}

var errMailEnabledWrite = model.BadRequest("The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or set to false.")

var errDynamicMembers = model.BadRequest("Insufficient privileges to complete the operation: members of a group with dynamic membership cannot be added or removed.")

func (a *API) postMemberRef(r *request) *wire.Response {
	body, err := payload(r)
	if err != nil {
		return a.fail(r, err)
	}
	var ref string
	if raw, ok := body["@odata.id"]; ok {
		json.Unmarshal(raw, &ref)
	}
	id, ok := objectRef(ref)
	if !ok {
		return a.failf(r, 400, model.CodeBadRequest, "Invalid object identifier '%s'.", ref)
	}
	err = a.dir.Write(func(tx *tenant.Tx) error {
		g := tenant.Groups.Get(&tx.View, r.param("id"))
		switch {
		case g == nil:
			return model.NotFound(r.param("id"))
		case g.Obj.IsDynamic():
			return errDynamicMembers
		}
		return tx.AddMember(g, id)
	})
	if err != nil {
		return a.fail(r, err)
	}
	return wire.NoContent()
}

func (a *API) deleteMemberRef(r *request) *wire.Response {
	err := a.dir.Write(func(tx *tenant.Tx) error {
		if g := tenant.Groups.Get(&tx.View, r.param("id")); g != nil && g.Obj.IsDynamic() {
			return errDynamicMembers
		}
		return tx.RemoveMember(r.param("id"), r.param("member"))
	})
	if err != nil {
		return a.fail(r, err)
	}
	return wire.NoContent()
}
