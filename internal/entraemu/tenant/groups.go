package tenant

import (
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/schema"
)

func (tx *Tx) checkGroupUpdate(old, next *model.Group) error {
	next.ID, next.CreatedDateTime, next.DeletedDateTime = old.ID, old.CreatedDateTime, time.Time{}
	if err := checkDisplayName(next.DisplayName, "Group"); err != nil {
		return err
	}
	if next.MailNickname == old.MailNickname && mailRecipient(next) == mailRecipient(old) {
		return nil
	}
	return tx.checkGroupNickname(next, old.ID)
}

// checkGroupNickname refuses a group's mail nickname of the wrong form, or
// one another recipient holds when the group is one.
func (tx *Tx) checkGroupNickname(g *model.Group, self string) error {
	if err := checkNicknameForm(g.MailNickname, "Group"); err != nil {
		return err
	}
	if !mailRecipient(g) {
		return nil
	}
	return tx.d.checkNicknameFree(g.MailNickname, self)
}

// CreateGroup adds a group with the given members. An empty ID is
// assigned. A Microsoft 365 (Unified) or mail-enabled group gets a mail
// address and a primary SMTP proxy address from its mail nickname, as
// Exchange does.
func (tx *Tx) CreateGroup(g model.Group, memberIDs []string) (*Rec[model.Group], error) {
	d := tx.d
	if err := tx.checkNewGroup(&g, memberIDs); err != nil {
		return nil, err
	}
	if g.MailEnabled && g.Mail == "" {
		g.Mail = g.MailNickname + "@" + d.org.Domain
	}
	if g.Mail != "" && len(g.ProxyAddresses) == 0 {
		g.ProxyAddresses = []string{"SMTP:" + g.Mail, "smtp:" + g.MailNickname + "@" + d.org.InitialDomain}
	}
	if g.IsUnified() && g.Visibility == "" {
		g.Visibility = "Public"
	}
	if g.SecurityIdentifier == "" {
		g.SecurityIdentifier = model.SIDFromGUID(g.ID)
	}
	if g.CreatedDateTime.IsZero() {
		g.CreatedDateTime = d.now()
	}
	g.DeletedDateTime = time.Time{}
	r := &Rec[model.Group]{Obj: g.Clone()}
	r.EverSet = schema.Groups.EverSet(&r.Obj)
	d.groups.activate(r)
	d.record(change{kind: model.ObjGroup, id: g.ID, op: opCreate, props: schema.Groups.AllMask})
	for _, m := range memberIDs {
		if err := tx.AddMember(r, m); err != nil && err != errAlreadyMember {
			return nil, err
		}
	}
	return r, nil
}

// checkNewGroup refuses a group Graph would not create, assigning its id
// and mail nickname when empty.
func (tx *Tx) checkNewGroup(g *model.Group, memberIDs []string) error {
	if g.ID == "" {
		g.ID = model.NewGUID(tx.d.ids)
	} else if tx.exists(g.ID) {
		return model.BadRequest("An object with id '%s' already exists.", g.ID)
	}
	if err := checkDisplayName(g.DisplayName, "Group"); err != nil {
		return err
	}
	if g.MailNickname == "" {
		g.MailNickname = model.Nickname(g.DisplayName)
		if mailRecipient(g) {
			g.MailNickname = tx.d.uniqueNickname(g.MailNickname)
		}
	}
	if err := tx.checkGroupNickname(g, ""); err != nil {
		return err
	}
	for _, m := range memberIDs {
		if _, ok := tx.MemberKind(m); !ok {
			return model.NotFound(m)
		}
	}
	return nil
}

// DeleteGroup deletes a group. A Microsoft 365 group goes to deleted items
// (restorable for 30 days); any other group is deleted for good, as Entra
// does with security groups and distribution lists.
func (tx *Tx) DeleteGroup(id string) error {
	d := tx.d
	id = model.NormID(id)
	r := d.groups.active.byID[id]
	if r == nil {
		return model.NotFound(id)
	}
	saved := r.memberOf
	tx.detach(model.ObjGroup, id, &r.memberOf, r.Members)
	d.groups.deactivate(r)
	if !r.Obj.IsUnified() {
		d.record(change{kind: model.ObjGroup, id: id, op: opPurge})
		return nil
	}
	r.saved = saved
	d.groups.softDelete(d, r)
	return nil
}

// RestoreGroup brings a Microsoft 365 group back from deleted items with
// its members and parent groups (those that still exist).
func (tx *Tx) RestoreGroup(id string) (*Rec[model.Group], error) {
	d := tx.d
	r := d.groups.deleted.byID[id]
	if r == nil {
		return nil, model.NotFound(id)
	}
	members := r.Members
	r.Members = nil
	d.groups.restore(d, r)
	for _, m := range members {
		if p := d.parentsOf(m.ID); p != nil {
			tx.addMember(r, m.ID, m.Kind, p)
		}
	}
	saved := r.saved
	r.saved = nil
	for _, pid := range saved {
		if p := d.groups.active.byID[pid]; p != nil {
			tx.addMember(p, id, model.ObjGroup, &r.memberOf)
		}
	}
	return r, nil
}
