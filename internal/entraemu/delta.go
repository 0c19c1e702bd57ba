package entraemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Delta queries on users and groups, as "user: delta", "group: delta" and
// "Use delta query to track changes in Microsoft Graph data" describe them.
//
// A round starts with a request without token. Its first pages walk the
// current objects in id order (the snapshot); later rounds read the change
// log between two sequence numbers. Tokens are opaque to clients but carry
// the round's position, the first request's $select and $filter, the
// emulator instance and the delta epoch, MACed so they cannot be forged.
// Pages hold about 200 users; group pages hold up to 100 groups and a
// budget of member references, past which a group's members continue in
// another entry for the same group on the next page.

type deltaState struct {
	Inst    string   `json:"i"`
	Epoch   uint32   `json:"e"`
	Kind    string   `json:"k"` // users or groups
	Sel     string   `json:"s,omitempty"`
	Members bool     `json:"mb,omitempty"`
	IDs     []string `json:"f,omitempty"`
	Snap    bool     `json:"n,omitempty"`
	From    uint64   `json:"a"`           // snapshot: the round's start; else changes after this
	To      uint64   `json:"b,omitempty"` // incremental pages: the round's end
	Cursor  string   `json:"c,omitempty"` // last object id done (or in progress, with MCursor)
	MCursor string   `json:"m,omitempty"` // last member id done of object Cursor
	Issued  int64    `json:"t"`
	Round   int64    `json:"r"`
}

func (t *Tenant) encodeToken(st *deltaState) string {
	payload := mustJSON(st)
	mac := hmac.New(sha256.New, t.deltaKey)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(append(payload, mac.Sum(nil)[:16]...))
}

// decodeToken returns the state, or the error Graph would answer.
func (t *Tenant) decodeToken(tok string) (*deltaState, *apiError) {
	invalid := &apiError{400, codeBadRequest, "The delta token or skip token is not valid."}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil || len(raw) < 17 {
		return nil, invalid
	}
	payload, sum := raw[:len(raw)-16], raw[len(raw)-16:]
	var st deltaState
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, invalid
	}
	if st.Inst != t.instance {
		// A token from an earlier run of the emulator: its state is gone.
		return nil, &apiError{410, "syncStateNotFound", "The sync state for this delta token was not found. Restart with a full synchronization."}
	}
	mac := hmac.New(sha256.New, t.deltaKey)
	mac.Write(payload)
	if !hmac.Equal(sum, mac.Sum(nil)[:16]) {
		return nil, invalid
	}
	return &st, nil
}

func (t *Tenant) userDelta(r *greq) *gresp  { return t.delta(r, "users") }
func (t *Tenant) groupDelta(r *greq) *gresp { return t.delta(r, "groups") }

func (t *Tenant) pageSizes() (users, groups, members int) {
	users, groups, members = t.opts.DeltaUserPageSize, t.opts.DeltaGroupPageSize, t.opts.DeltaMemberPageSize
	if users <= 0 {
		users = defaultDeltaUsers
	}
	if groups <= 0 {
		groups = 100
	}
	if members <= 0 {
		members = 1000
	}
	return
}

// restartURL is the initial request with an empty $deltatoken, as the
// Location header of a 410 gives it.
func restartURL(r *greq, kind string, st *deltaState) string {
	u := r.base + "/v1.0/" + kind + "/delta?"
	if st != nil && st.Sel != "" {
		u += "$select=" + url.QueryEscape(st.Sel) + "&"
	}
	if st != nil && len(st.IDs) > 0 {
		parts := make([]string, len(st.IDs))
		for i, id := range st.IDs {
			parts[i] = "id eq '" + id + "'"
		}
		u += "$filter=" + url.QueryEscape(strings.Join(parts, " or ")) + "&"
	}
	return u + "$deltatoken="
}

func (t *Tenant) gone(r *greq, kind string, st *deltaState, code, msg string) *gresp {
	resp := r.errorf(t, 410, code, "%s", msg)
	resp.header.Set("Location", restartURL(r, kind, st))
	return resp
}

// parseDeltaFilter accepts only "id eq '...'" clauses joined by "or", up to
// 50, the one $filter delta supports.
func parseDeltaFilter(v string) ([]string, *apiError) {
	unsupported := &apiError{400, codeUnsupported, "Unsupported query: delta supports $filter only as id eq '{id}' clauses joined by 'or', for up to 50 objects."}
	f, err := parseFilter(v)
	if err != nil {
		return nil, unsupported
	}
	var ids []string
	var walk func(n fnode) bool
	walk = func(n fnode) bool {
		switch x := n.(type) {
		case fOr:
			return walk(x.a) && walk(x.b)
		case fCmp:
			if x.op == "eq" && strings.EqualFold(x.prop, "id") && x.lit.isStr {
				ids = append(ids, strings.ToLower(x.lit.s))
				return true
			}
		case fIn:
			if strings.EqualFold(x.prop, "id") {
				for _, l := range x.lits {
					ids = append(ids, strings.ToLower(l.s))
				}
				return true
			}
		}
		return false
	}
	if !walk(f.root) || len(ids) == 0 || len(ids) > 50 {
		return nil, unsupported
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

func (t *Tenant) delta(r *greq, kind string) *gresp {
	now := t.now()
	q := r.query
	tokStr := q.Get("$skiptoken")
	if tokStr == "" {
		tokStr = q.Get("$deltatoken")
	}
	var st *deltaState
	if tokStr != "" && !strings.EqualFold(tokStr, "latest") {
		var aerr *apiError
		st, aerr = t.decodeToken(tokStr)
		if aerr != nil {
			if aerr.status == 410 {
				return t.gone(r, kind, nil, aerr.code, aerr.msg)
			}
			return r.fail(t, aerr)
		}
		if st.Kind != kind {
			return r.errorf(t, 400, codeBadRequest, "The delta token is not valid for %s.", kind)
		}
		if g := t.checkToken(r, kind, st, now); g != nil {
			return g
		}
	} else {
		st = &deltaState{Inst: t.instance, Kind: kind, Sel: q.Get("$select")}
		if kind == "users" {
			if _, _, err := userProps.selectMask(st.Sel, "manager"); err != nil {
				return r.errorf(t, 400, "BadRequest", "%s", err.Error())
			}
		} else {
			_, extras, err := groupProps.selectMask(st.Sel, "members", "owners")
			if err != nil {
				return r.errorf(t, 400, "BadRequest", "%s", err.Error())
			}
			st.Members = st.Sel == "" || slices.Contains(extras, "members")
		}
		if e := strings.TrimSpace(q.Get("$expand")); e != "" {
			if kind == "groups" && strings.EqualFold(e, "members") {
				st.Members = true
			} else {
				return r.errorf(t, 400, codeUnsupported, "$expand is not supported on delta queries, except members on groups.")
			}
		}
		if q.Get("$orderby") != "" {
			return r.errorf(t, 400, codeUnsupported, "$orderby is not supported on delta queries.")
		}
		if v := q.Get("$filter"); v != "" {
			ids, aerr := parseDeltaFilter(v)
			if aerr != nil {
				return r.fail(t, aerr)
			}
			st.IDs = ids
		}
		t.mu.RLock()
		st.Epoch, st.From = t.epoch, t.seq()
		t.mu.RUnlock()
		st.Round = now.Unix()
		st.Snap = !strings.EqualFold(tokStr, "latest")
		if !st.Snap {
			// $deltatoken=latest: only a deltaLink, tracking from now.
			st.Issued = now.Unix()
			return t.deltaResponse(r, kind, st, "", t.encodeToken(st), nil)
		}
	}
	var mask uint64
	if kind == "users" {
		mask, _, _ = userProps.selectMask(st.Sel, "manager")
	} else {
		mask, _, _ = groupProps.selectMask(st.Sel, "members", "owners")
	}
	minimal := !st.Snap && strings.Contains(strings.ToLower(r.header.Get("Prefer")), "return=minimal")
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !st.Snap && st.From < t.logBase {
		// The log was compacted past this token while it waited.
		return t.gone(r, kind, st, "syncStateNotFound", "The sync state for this delta token was not found. Restart with a full synchronization.")
	}
	var page deltaPage
	if st.Snap {
		page = t.snapshotPage(st, mask)
	} else {
		page = t.changesPage(st, mask, minimal)
	}
	var nextTok, deltaTok string
	if page.more {
		next := *st
		next.Issued = now.Unix()
		next.To = page.to
		next.Cursor, next.MCursor = page.cursor, page.mcursor
		nextTok = t.encodeToken(&next)
	} else {
		done := deltaState{Inst: st.Inst, Epoch: st.Epoch, Kind: kind, Sel: st.Sel, Members: st.Members, IDs: st.IDs, Issued: now.Unix(), Round: now.Unix(), From: st.From}
		if !st.Snap {
			done.From = page.to
		}
		deltaTok = t.encodeToken(&done)
	}
	resp := t.deltaResponse(r, kind, st, nextTok, deltaTok, page.body)
	if minimal {
		resp.header.Set("Preference-Applied", "return=minimal")
	}
	return resp
}

// checkToken answers 410 Gone for a token that can no longer be followed,
// and 400 for one of another collection.
func (t *Tenant) checkToken(r *greq, kind string, st *deltaState, now time.Time) *gresp {
	if st.Kind != kind {
		return r.errorf(t, 400, codeBadRequest, "The delta token is not valid for %s.", kind)
	}
	t.mu.RLock()
	epoch, base := t.epoch, t.logBase
	t.mu.RUnlock()
	switch {
	case st.Epoch != epoch:
		return t.gone(r, kind, st, "resyncRequired", "Resync required. The delta token is no longer valid; replace any local copies of the objects with a full synchronization.")
	case now.Sub(time.Unix(st.Issued, 0)) > deltaTokenMaxAge:
		return t.gone(r, kind, st, "syncStateNotFound", "The delta token has expired: directory delta tokens are valid for 7 days. Restart with a full synchronization.")
	case st.Snap && now.Sub(time.Unix(st.Round, 0)) > deltaSteadyState:
		return t.gone(r, kind, st, "resyncRequired", "Sync must reach steady state within 30 days. Restart with a full synchronization.")
	case !st.Snap && st.From < base:
		return t.gone(r, kind, st, "syncStateNotFound", "The sync state for this delta token was not found. Restart with a full synchronization.")
	}
	return nil
}

func (t *Tenant) deltaResponse(r *greq, kind string, st *deltaState, nextTok, deltaTok string, items []byte) *gresp {
	var env obj
	env.begin(make([]byte, 0, len(items)+512))
	var names []string
	if kind == "users" {
		names = userProps.contextNames(st.Sel, "manager")
	} else {
		names = groupProps.contextNames(st.Sel, "members", "owners")
	}
	ctx := selectContext(kind, names)
	env.str("@odata.context", t.contextURL(r, ctx))
	if nextTok != "" {
		env.str("@odata.nextLink", r.base+"/v1.0/"+kind+"/delta?$skiptoken="+nextTok)
	} else {
		env.str("@odata.deltaLink", r.base+"/v1.0/"+kind+"/delta?$deltatoken="+deltaTok)
	}
	env.key("value")
	env.b = append(env.b, '[')
	env.b = append(env.b, items...)
	env.b = append(env.b, ']')
	return okJSON(200, env.end())
}

type deltaPage struct {
	body            []byte
	more            bool
	cursor, mcursor string
	to              uint64
}

// startIndex is where a page starts in sorted ids: after cursor, or at
// cursor itself when that object is unfinished (mcursor set).
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
func (t *Tenant) snapshotPage(st *deltaState, mask uint64) deltaPage {
	userSize, groupSize, memberBudget := t.pageSizes()
	var p deltaPage
	b := make([]byte, 0, 64<<10)
	users := st.Kind == "users"
	active, limit := t.groupIDs, groupSize
	if users {
		active, limit = t.userIDs, userSize
	}
	active = restrict(active, st.IDs)
	gone := restrict(t.deletedIDs(users), st.IDs)
	i := startIndex(active, st.Cursor, st.MCursor)
	j := startIndex(gone, st.Cursor, "")
	resumeID, resumeAfter := st.Cursor, st.MCursor
	entries, refs := 0, 0
	for (i < len(active) || j < len(gone)) && entries < limit {
		if j < len(gone) && (i == len(active) || gone[j] < active[i]) {
			if entries > 0 {
				b = append(b, ',')
			}
			b = appendRemoved(b, gone[j], "changed")
			entries++
			p.cursor, p.mcursor = gone[j], ""
			j++
			continue
		}
		if users {
			u := t.users[active[i]]
			if entries > 0 {
				b = append(b, ',')
			}
			var e obj
			e.begin(b)
			userProps.appendObject(&e, &u.User, mask, true, u.everSet)
			b = e.end()
			entries++
			p.cursor = u.ID
			i++
			continue
		}
		g := t.groups[active[i]]
		var members []memberRef
		if st.Members {
			members = g.members
			if resumeID == g.ID && resumeAfter != "" {
				k, found := findMember(members, resumeAfter)
				if found {
					k++
				}
				members = members[k:]
			}
			if refs >= memberBudget && len(members) > 0 {
				break
			}
		}
		partial := false
		if room := memberBudget - refs; len(members) > room {
			members, partial = members[:room], true
		}
		if entries > 0 {
			b = append(b, ',')
		}
		var e obj
		e.begin(b)
		groupProps.appendObject(&e, &g.Group, mask, true, g.everSet)
		if len(members) > 0 {
			e.key("members@delta")
			e.b = append(e.b, '[')
			for k, m := range members {
				if k > 0 {
					e.b = append(e.b, ',')
				}
				e.b = appendMemberRef(e.b, m, false)
			}
			e.b = append(e.b, ']')
		}
		b = e.end()
		entries++
		refs += len(members)
		p.cursor, p.mcursor = g.ID, ""
		if partial {
			p.mcursor = members[len(members)-1].id
			p.more = true
			p.body = b
			return p
		}
		resumeID = "" // only the first group can resume mid-way
		i++
	}
	p.more = i < len(active) || j < len(gone)
	p.body = b
	return p
}

// deletedIDs lists the users (or groups) in deleted items, sorted.
func (t *Tenant) deletedIDs(users bool) []string {
	var ids []string
	for id, d := range t.deleted {
		if (d.user != nil) == users {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func appendRemoved(b []byte, id, reason string) []byte {
	var e obj
	e.begin(b)
	e.str("id", id)
	e.raw("@removed", []byte(`{"reason":"`+reason+`"}`))
	return e.end()
}

func appendMemberRef(b []byte, m memberRef, removed bool) []byte {
	var e obj
	e.begin(b)
	e.str("@odata.type", "#microsoft.graph."+m.kind.String())
	e.str("id", m.id)
	if removed {
		e.raw("@removed", []byte(`{"reason":"deleted"}`))
	}
	return e.end()
}

// agg sums up an object's changes in a window of the log.
type agg struct {
	props   uint64
	created bool // created or restored: written in full
	removed bool // soft-deleted or purged at some point
	members map[string]objKind
}

// changesPage is a page of an incremental round: the objects changed
// between st.From and the round's end, in id order, as they are now.
func (t *Tenant) changesPage(st *deltaState, mask uint64, minimal bool) deltaPage {
	// With $select only the selected properties are tracked; without it,
	// every property is, though the default set is what is returned.
	track := mask
	if st.Sel == "" {
		track = userProps.allMask
		if st.Kind == "groups" {
			track = groupProps.allMask
		}
	}
	userSize, groupSize, memberBudget := t.pageSizes()
	to := st.To
	if to == 0 {
		to = t.seq()
	}
	p := deltaPage{to: to}
	want := kUser
	if st.Kind == "groups" {
		want = kGroup
	}
	changed := map[string]*agg{}
	lo, hi := int(st.From-t.logBase), int(to-t.logBase)
	for _, c := range t.log[lo:hi] {
		if c.kind != want {
			continue
		}
		a := changed[c.id]
		if a == nil {
			a = &agg{}
			changed[c.id] = a
		}
		switch c.op {
		case opCreate, opRestore:
			a.created = true
			a.props |= c.props
		case opUpdate:
			a.props |= c.props
		case opSoftDelete, opPurge:
			a.removed = true
		case opMemberAdd, opMemberRemove:
			if a.members == nil {
				a.members = map[string]objKind{}
			}
			a.members[c.member] = c.mkind
		}
	}
	var ids []string
	for id, a := range changed {
		if a.created || a.removed || a.props&track != 0 || (st.Members && len(a.members) > 0) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if st.IDs != nil {
		ids = restrict(ids, st.IDs)
	}
	b := make([]byte, 0, 16<<10)
	i := startIndex(ids, st.Cursor, st.MCursor)
	resumeID, resumeAfter := st.Cursor, st.MCursor
	entries, refs := 0, 0
	limit := userSize
	if st.Kind == "groups" {
		limit = groupSize
	}
	for i < len(ids) && entries < limit {
		id := ids[i]
		a := changed[id]
		if entries > 0 && refs >= memberBudget {
			break
		}
		if entries > 0 {
			b = append(b, ',')
		}
		entries++
		p.cursor, p.mcursor = id, ""
		var e obj
		e.begin(b)
		// The object as it is now: removed, or its properties.
		var active bool
		var everSet uint64
		if st.Kind == "users" {
			if u := t.users[id]; u != nil {
				active = true
				propMask, omit := mask, true
				if minimal && !a.created {
					propMask, omit = (a.props&mask)|userProps.byName["id"].bit, false
				}
				everSet = u.everSet
				userProps.appendObject(&e, &u.User, propMask, omit, everSet)
			}
		} else if g := t.groups[id]; g != nil {
			active = true
			propMask, omit := mask, true
			if minimal && !a.created {
				propMask, omit = (a.props&mask)|groupProps.byName["id"].bit, false
			}
			groupProps.appendObject(&e, &g.Group, propMask, omit, g.everSet)
			if st.Members && len(a.members) > 0 {
				mids := make([]string, 0, len(a.members))
				for mid := range a.members {
					mids = append(mids, mid)
				}
				slices.Sort(mids)
				if resumeID == id && resumeAfter != "" {
					j, found := slices.BinarySearch(mids, resumeAfter)
					if found {
						j++
					}
					mids = mids[j:]
				}
				room := memberBudget - refs
				partial := len(mids) > room
				if partial {
					mids = mids[:room]
				}
				e.key("members@delta")
				e.b = append(e.b, '[')
				for k, mid := range mids {
					if k > 0 {
						e.b = append(e.b, ',')
					}
					_, isMember := findMember(g.members, mid)
					e.b = appendMemberRef(e.b, memberRef{mid, a.members[mid]}, !isMember)
				}
				e.b = append(e.b, ']')
				refs += len(mids)
				if partial {
					b = e.end()
					p.mcursor = mids[len(mids)-1]
					p.more = true
					p.body = b
					return p
				}
			}
		}
		if !active {
			reason := "deleted"
			if _, soft := t.deleted[id]; soft {
				reason = "changed"
			}
			b = appendRemoved(b, id, reason)
		} else {
			b = e.end()
		}
		resumeID = ""
		i++
	}
	p.more = i < len(ids)
	p.body = b
	return p
}
