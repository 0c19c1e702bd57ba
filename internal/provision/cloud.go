package provision

import (
	"context"
	"encoding/json"

	"fmt"
	"strings"

	"github.com/dirsync/dirsync/internal/graph"
	"github.com/dirsync/dirsync/internal/store"
)

// The tenant's state as dirsync last read it: every user and group with
// the properties an export compares, and each group's members. It is kept
// in the store with the delta links of the round that read it, so that a
// cycle reads only what changed since the last one. Objects are kept as
// the properties Graph sent (a JSON object), so that a delta entry that
// carries only some properties patches exactly those.

// userSelect and groupSelect are the properties an export reads.
var (
	userSelect = []string{"id", "userPrincipalName", "mail", "mailNickname", "displayName", "givenName", "surname",
		"jobTitle", "department", "mobilePhone", "businessPhones", "usageLocation", "accountEnabled", "onPremisesImmutableId"}
	groupSelect = []string{"id", "displayName", "description", "mailNickname", "mailEnabled", "securityEnabled", "groupTypes"}
)

// Object kinds in the cache and in links.
const (
	kindUser  = "user"
	kindGroup = "group"
)

// membersKey holds a cached group's members: cloud id to kind.
const membersKey = "_members"

// object is one cloud object's properties.
type object map[string]json.RawMessage

func (o object) str(key string) string {
	var s string
	_ = json.Unmarshal(o[key], &s)
	return s
}

func (o object) boolean(key string) bool {
	var b bool
	_ = json.Unmarshal(o[key], &b)
	return b
}

func (o object) list(key string) []string {
	var l []string
	_ = json.Unmarshal(o[key], &l)
	return l
}

func (o object) members() map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal(o[membersKey], &m)
	return m
}

// cloud is the tenant's state.
type cloud struct {
	users, groups map[string]object
	// dirty and gone are what changed since the cache was loaded.
	dirty map[string]map[string]bool // kind -> cloud ids to save
	gone  map[string]map[string]bool // kind -> cloud ids to delete
}

func newCloud() *cloud {
	return &cloud{users: map[string]object{}, groups: map[string]object{},
		dirty: map[string]map[string]bool{kindUser: {}, kindGroup: {}}, gone: map[string]map[string]bool{kindUser: {}, kindGroup: {}}}
}

func (c *cloud) of(kind string) map[string]object {
	if kind == kindUser {
		return c.users
	}
	return c.groups
}

func (c *cloud) put(kind, id string, o object) {
	c.of(kind)[id] = o
	c.dirty[kind][id] = true
	delete(c.gone[kind], id)
}

func (c *cloud) remove(kind, id string) {
	delete(c.of(kind), id)
	delete(c.dirty[kind], id)
	c.gone[kind][id] = true
}

// cursors are the delta links of the last round read.
type cursors struct {
	Users  string `json:"users"`
	Groups string `json:"groups"`
}

// loadCloud reads the cached state of the target.
func loadCloud(ctx context.Context, rd store.Reader, targetID string) (*cloud, cursors, error) {
	c := newCloud()
	var cur cursors
	state, err := rd.TargetState(ctx, targetID)
	if err != nil {
		return nil, cur, err
	}
	if state != "" {
		if err := json.Unmarshal([]byte(state), &cur); err != nil {
			return nil, cur, fmt.Errorf("provision: target state: %w", err)
		}
	}
	for _, kind := range []string{kindUser, kindGroup} {
		objs, err := rd.TargetObjects(ctx, targetID, kind)
		if err != nil {
			return nil, cur, err
		}
		for _, o := range objs {
			var props object
			if err := json.Unmarshal(o.Data, &props); err != nil {
				return nil, cur, fmt.Errorf("provision: cached %s %s: %w", kind, o.CloudID, err)
			}
			c.of(kind)[o.CloudID] = props
		}
	}
	return c, cur, nil
}

// refresh brings the cache up to date: a delta round from the saved links,
// or from scratch when there are none, full is asked, or Graph refuses a
// link (an expired delta token). It reports whether it read from scratch.
func (t *Tenant) refresh(ctx context.Context, c *cloud, cur *cursors, full bool) (bool, error) {
	if !full && cur.Users != "" && cur.Groups != "" {
		next, err := t.readDelta(ctx, c, *cur)
		if err == nil {
			*cur = next
			return false, nil
		}
		if !graph.IsDeltaExpired(err) {
			return false, err
		}
	}
	fresh := newCloud()
	next, err := t.readDelta(ctx, fresh, cursors{Users: t.client.UsersDeltaURL(userSelect), Groups: t.client.GroupsDeltaURL(groupSelect, true)})
	if err != nil {
		return true, err
	}
	// What was cached and is not in a fresh round is gone.
	for _, kind := range []string{kindUser, kindGroup} {
		for id := range c.of(kind) {
			if _, ok := fresh.of(kind)[id]; !ok {
				fresh.gone[kind][id] = true
			}
		}
	}
	*c, *cur = *fresh, next
	return true, nil
}

// readDelta walks one users round and one groups round into c.
func (t *Tenant) readDelta(ctx context.Context, c *cloud, from cursors) (cursors, error) {
	var next cursors
	var err error
	next.Users, err = graph.WalkDelta(ctx, t.client, from.Users, graph.DeltaOptions{}, func(page []object) error {
		for _, e := range page {
			c.apply(kindUser, e)
		}
		return nil
	})
	if err != nil {
		return next, fmt.Errorf("read users: %w", err)
	}
	next.Groups, err = graph.WalkDelta(ctx, t.client, from.Groups, graph.DeltaOptions{}, func(page []object) error {
		for _, e := range page {
			c.apply(kindGroup, e)
		}
		return nil
	})
	if err != nil {
		return next, fmt.Errorf("read groups: %w", err)
	}
	return next, nil
}

// apply lays one delta entry over the cache: a removal, or the properties
// it carries (and, for a group, the members it adds and removes).
func (c *cloud) apply(kind string, e object) {
	id := strings.ToLower(e.str("id"))
	if id == "" {
		return
	}
	if _, removed := e["@removed"]; removed {
		c.remove(kind, id)
		return
	}
	o := c.of(kind)[id]
	if o == nil {
		o = object{}
	}
	for k, v := range e {
		if strings.Contains(k, "@") {
			continue
		}
		o[k] = v
	}
	o["id"], _ = json.Marshal(id)
	if raw, ok := e["members@delta"]; ok {
		members := o.members()
		var ms []graph.DirectoryObject
		_ = json.Unmarshal(raw, &ms)
		for _, m := range ms {
			mid := strings.ToLower(m.ID)
			if m.Removed != nil {
				delete(members, mid)
			} else {
				members[mid] = m.Kind()
			}
		}
		o[membersKey], _ = json.Marshal(members)
	}
	c.put(kind, id, o)
}

// save writes what changed in the cache, and the cursors, in one
// transaction.
func (c *cloud) save(ctx context.Context, st store.Store, targetID string, cur cursors) error {
	state, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	return st.Update(ctx, func(tx store.Tx) error {
		for _, kind := range []string{kindUser, kindGroup} {
			var objs []store.TargetObject
			for id := range c.dirty[kind] {
				data, err := json.Marshal(c.of(kind)[id])
				if err != nil {
					return err
				}
				objs = append(objs, store.TargetObject{Kind: kind, CloudID: id, Data: data})
			}
			if err := tx.PutTargetObjects(ctx, targetID, objs); err != nil {
				return err
			}
			var gone []string
			for id := range c.gone[kind] {
				gone = append(gone, id)
			}
			if err := tx.DeleteTargetObjects(ctx, targetID, kind, gone); err != nil {
				return err
			}
		}
		return tx.SetTargetState(ctx, targetID, string(state))
	})
}
