package tenant

import (
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/schema"
)

// lookupUser finds an active user by id or UPN.
func (d *Directory) lookupUser(key string) *Rec[model.User] {
	if r, ok := d.users.active.byID[key]; ok {
		return r
	}
	if strings.Contains(key, "@") {
		if id, ok := d.upns[strings.ToLower(key)]; ok {
			return d.users.active.byID[id]
		}
	}
	return nil
}

// checkUserUpdate refuses an update Graph would refuse; it keeps the
// properties no update can change.
func (tx *Tx) checkUserUpdate(old, next *model.User) error {
	next.ID, next.CreatedDateTime, next.DeletedDateTime = old.ID, old.CreatedDateTime, time.Time{}
	if err := checkDisplayName(next.DisplayName, "User"); err != nil {
		return err
	}
	if next.UserPrincipalName != old.UserPrincipalName {
		if err := tx.checkUPN(next.UserPrincipalName, old.ID); err != nil {
			return err
		}
	}
	if next.MailNickname != old.MailNickname {
		if err := tx.checkUserNickname(next.MailNickname, old.ID); err != nil {
			return err
		}
	}
	if next.OnPremisesImmutableID != old.OnPremisesImmutableID {
		return tx.checkImmutableID(next.OnPremisesImmutableID, old.ID)
	}
	return nil
}

// checkUPN validates a UPN for a user (self, or "" for a new one): its
// form, a verified domain, and no other user holding it.
func (tx *Tx) checkUPN(upn, self string) error {
	d := tx.d
	if err := checkUPNForm(upn); err != nil {
		return err
	}
	if _, domain, _ := strings.Cut(upn, "@"); !d.VerifiedDomain(domain) {
		return model.BadRequest("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
	}
	if id, taken := d.upns[strings.ToLower(upn)]; taken && id != self {
		return model.Conflict("userPrincipalName")
	}
	return nil
}

func (tx *Tx) checkUserNickname(nick, self string) error {
	if err := checkNicknameForm(nick, "User"); err != nil {
		return err
	}
	return tx.d.checkNicknameFree(nick, self)
}

// checkImmutableID refuses an onPremisesImmutableId another user holds:
// it is the anchor a sync matches on.
func (tx *Tx) checkImmutableID(id, self string) error {
	if other, taken := tx.d.immutableIDs[id]; id != "" && taken && other != self {
		return model.Conflict("onPremisesImmutableId")
	}
	return nil
}

// CreateUser adds a user. An empty ID is assigned; UserType defaults to
// Member; MailNickname defaults to the UPN's local part.
func (tx *Tx) CreateUser(u model.User) (*Rec[model.User], error) {
	d := tx.d
	if u.MailNickname == "" {
		u.MailNickname, _, _ = strings.Cut(u.UserPrincipalName, "@")
	}
	if err := tx.checkNewUser(&u); err != nil {
		return nil, err
	}
	if u.UserType == "" {
		u.UserType = "Member"
	}
	if u.CreatedDateTime.IsZero() {
		u.CreatedDateTime = d.now()
	}
	u.DeletedDateTime = time.Time{}
	r := &Rec[model.User]{Obj: u.Clone()}
	r.EverSet = schema.Users.EverSet(&r.Obj)
	d.users.activate(r)
	d.record(change{kind: model.ObjUser, id: u.ID, op: opCreate, props: schema.Users.AllMask})
	return r, nil
}

func (tx *Tx) checkNewUser(u *model.User) error {
	if u.ID == "" {
		u.ID = model.NewGUID(tx.d.ids)
	} else if tx.exists(u.ID) {
		return model.BadRequest("An object with id '%s' already exists.", u.ID)
	}
	if err := checkDisplayName(u.DisplayName, "User"); err != nil {
		return err
	}
	if err := tx.checkUPN(u.UserPrincipalName, ""); err != nil {
		return err
	}
	if err := tx.checkUserNickname(u.MailNickname, ""); err != nil {
		return err
	}
	return tx.checkImmutableID(u.OnPremisesImmutableID, "")
}

// DeleteUser moves a user to deleted items, restorable for 30 days. Entra
// removes a deleted user from its groups; RestoreUser puts it back.
func (tx *Tx) DeleteUser(key string) error {
	d := tx.d
	r := d.lookupUser(model.NormID(key))
	if r == nil {
		return model.NotFound(key)
	}
	id := r.Obj.ID
	tx.leaveAll(id, model.ObjUser, r.memberOf)
	r.saved, r.memberOf = r.memberOf, nil
	d.users.deactivate(r)
	d.users.softDelete(d, r)
	return nil
}

// RestoreUser brings a user back from deleted items, with its group
// memberships (those groups that still exist).
func (tx *Tx) RestoreUser(id string) (*Rec[model.User], error) {
	d := tx.d
	r := d.users.deleted.byID[id]
	if r == nil {
		return nil, model.NotFound(id)
	}
	if other, taken := d.upns[strings.ToLower(r.Obj.UserPrincipalName)]; taken && other != id {
		return nil, model.Conflict("userPrincipalName")
	}
	d.users.restore(d, r)
	saved := r.saved
	r.saved = nil
	for _, gid := range saved {
		if g := d.groups.active.byID[gid]; g != nil {
			tx.addMember(g, id, model.ObjUser, &r.memberOf)
		}
	}
	return r, nil
}
