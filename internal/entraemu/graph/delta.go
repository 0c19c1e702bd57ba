package graph

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/odata"
	"github.com/dirsync/dirsync/internal/entraemu/tenant"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// Delta queries on users and groups, as "user: delta", "group: delta" and
// "Use delta query to track changes in Microsoft Graph data" describe them.
//
// A round starts with a request without token. Its first pages walk the
// current objects in id order (the snapshot); later rounds read the change
// log between two sequence numbers. Pages hold about 200 users; group pages
// hold up to 100 groups and a budget of member references, past which a
// group's members continue in another entry for the same group on the next
// page.

const deltaSteadyState = 30 * 24 * time.Hour // an initial round must finish within 30 days

// deltaKind is what differs between users and groups in delta queries.
type deltaKind[T any] struct {
	*kind[T]
	extra []string // $select names that are relationships
	// members returns a group's members when they are selected.
	members func(r *tenant.Rec[T]) []model.Ref
}

func noMembers[T any](*tenant.Rec[T]) []model.Ref { return nil }

var (
	userDelta             = &deltaKind[model.User]{kind: users, extra: []string{"manager"}, members: noMembers[model.User]}
	groupDelta            = &deltaKind[model.Group]{kind: groups, extra: []string{"members", "owners"}, members: func(g *tenant.Rec[model.Group]) []model.Ref { return g.Members }}
	servicePrincipalDelta = &deltaKind[model.Object]{kind: servicePrincipals, members: noMembers[model.Object]}
	deviceDelta           = &deltaKind[model.Object]{kind: devices, members: noMembers[model.Object]}
	contactDelta          = &deltaKind[model.Object]{kind: contacts, members: noMembers[model.Object]}
)

func (a *API) userDelta(r *request) *wire.Response  { return delta(a, r, userDelta) }
func (a *API) groupDelta(r *request) *wire.Response { return delta(a, r, groupDelta) }
func (a *API) servicePrincipalDelta(r *request) *wire.Response {
	return delta(a, r, servicePrincipalDelta)
}
func (a *API) deviceDelta(r *request) *wire.Response  { return delta(a, r, deviceDelta) }
func (a *API) contactDelta(r *request) *wire.Response { return delta(a, r, contactDelta) }

func (a *API) pageSizes() (users, groups, members int) {
	c := &a.cfg
	users, groups, members = c.DeltaUserPageSize, c.DeltaGroupPageSize, c.DeltaMemberPageSize
	if users <= 0 {
		users = 200
	}
	if groups <= 0 {
		groups = 100
	}
	if members <= 0 {
		members = 1000
	}
	return
}

func delta[T any](a *API, r *request, k *deltaKind[T]) *wire.Response {
	st, latest, resp := deltaStart(a, r, k)
	if resp != nil {
		return resp
	}
	now := a.now()
	if latest {
		// $deltatoken=latest: only a deltaLink, tracking from now.
		st.Issued = now.Unix()
		return deltaResponse(a, r, k, st, "", a.encodeToken(st), nil)
	}
	mask, _, _ := k.k.Table().SelectMask(st.Sel, k.extra...)
	minimal := !st.Snap && strings.Contains(strings.ToLower(r.header.Get("Prefer")), "return=minimal")
	var p *pager
	a.dir.Read(func(v *tenant.View) {
		if !st.Snap && st.From < v.LogBase() {
			// The log was compacted past this token while it waited.
			resp = a.gone(r, k.entitySet, st, errSyncStateNotFound)
			return
		}
		p = a.newPager(k.entitySet)
		if st.Snap {
			snapshotPage(v, p, k, st, mask)
		} else {
			changesPage(v, p, k, st, mask, minimal)
		}
	})
	if resp != nil {
		return resp
	}
	return a.deltaPageResponse(r, k, st, p, minimal, now)
}

func (a *API) deltaPageResponse(r *request, k deltaNamer, st *deltaState, p *pager, minimal bool, now time.Time) *wire.Response {
	var nextTok, deltaTok string
	if p.more {
		next := *st
		next.Issued = now.Unix()
		next.To = p.to
		next.Cursor, next.MCursor = p.cursor, p.mcursor
		nextTok = a.encodeToken(&next)
	} else {
		done := deltaState{Inst: st.Inst, Epoch: st.Epoch, Kind: st.Kind, Sel: st.Sel, Members: st.Members, IDs: st.IDs, Issued: now.Unix(), Round: now.Unix(), From: st.From}
		if !st.Snap {
			done.From = p.to
		}
		deltaTok = a.encodeToken(&done)
	}
	resp := deltaResponse(a, r, k, st, nextTok, deltaTok, p.b)
	if minimal {
		resp.Header.Set("Preference-Applied", "return=minimal")
	}
	return resp
}

// deltaNamer gives a delta response its context.
type deltaNamer interface {
	contextNames(sel string) []string
	set() string
}

func (k *deltaKind[T]) contextNames(sel string) []string {
	return k.k.Table().ContextNames(sel, k.extra...)
}

func (k *deltaKind[T]) set() string { return k.entitySet }

// deltaStart reads the request's token, or starts a round: it returns the
// state (and whether the request asked for $deltatoken=latest), or the
// response refusing the request.
func deltaStart[T any](a *API, r *request, k *deltaKind[T]) (*deltaState, bool, *wire.Response) {
	tok := r.query.Get("$skiptoken")
	if tok == "" {
		tok = r.query.Get("$deltatoken")
	}
	if latest := strings.EqualFold(tok, "latest"); tok == "" || latest {
		st, err := newRound(a, r, k, !latest)
		if err != nil {
			return nil, false, a.fail(r, err)
		}
		return st, latest, nil
	}
	st, err := a.decodeToken(tok)
	if err != nil {
		if err.Status == 410 {
			return nil, false, a.gone(r, k.entitySet, nil, err)
		}
		return nil, false, a.fail(r, err)
	}
	if resp := a.checkToken(r, k.entitySet, st); resp != nil {
		return nil, false, resp
	}
	return st, false, nil
}

// newRound starts a round from the first request's query options.
func newRound[T any](a *API, r *request, k *deltaKind[T], snapshot bool) (*deltaState, error) {
	q := r.query
	st := &deltaState{Inst: a.instance, Kind: k.entitySet, Sel: q.Get("$select"), Snap: snapshot}
	_, extras, err := k.k.Table().SelectMask(st.Sel, k.extra...)
	if err != nil {
		return nil, model.Errorf(400, "BadRequest", "%s", err.Error())
	}
	st.Members = k.entitySet == "groups" && (st.Sel == "" || slices.Contains(extras, "members"))
	if e := strings.TrimSpace(q.Get("$expand")); e != "" {
		if k.entitySet != "groups" || !strings.EqualFold(e, "members") {
			return nil, model.Errorf(400, model.CodeUnsupported, "$expand is not supported on delta queries, except members on groups.")
		}
		st.Members = true
	}
	if q.Get("$orderby") != "" {
		return nil, model.Errorf(400, model.CodeUnsupported, "$orderby is not supported on delta queries.")
	}
	if v := q.Get("$filter"); v != "" {
		if st.IDs, err = deltaFilterIDs(v); err != nil {
			return nil, err
		}
	}
	a.dir.Read(func(v *tenant.View) { st.Epoch, st.From = v.Epoch(), v.Seq() })
	st.Round = a.now().Unix()
	return st, nil
}

// deltaFilterIDs accepts only "id eq '...'" clauses joined by "or", up to
// 50, the one $filter delta supports.
func deltaFilterIDs(v string) ([]string, error) {
	unsupported := model.Errorf(400, model.CodeUnsupported, "Unsupported query: delta supports $filter only as id eq '{id}' clauses joined by 'or', for up to 50 objects.")
	f, err := odata.ParseFilter(v)
	if err != nil {
		return nil, unsupported
	}
	ids, ok := f.IDs()
	if !ok || len(ids) == 0 || len(ids) > 50 {
		return nil, unsupported
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// checkToken answers 410 Gone for a token that can no longer be followed,
// and 400 for one of another collection.
func (a *API) checkToken(r *request, kind string, st *deltaState) *wire.Response {
	if st.Kind != kind {
		return a.failf(r, 400, model.CodeBadRequest, "The delta token is not valid for %s.", kind)
	}
	var epoch uint32
	var base uint64
	a.dir.Read(func(v *tenant.View) { epoch, base = v.Epoch(), v.LogBase() })
	now := a.now()
	switch {
	case st.Epoch != epoch:
		return a.gone(r, kind, st, &model.Error{Status: 410, Code: "resyncRequired", Message: "Resync required. The delta token is no longer valid; replace any local copies of the objects with a full synchronization."})
	case now.Sub(time.Unix(st.Issued, 0)) > tenant.DeltaTokenMaxAge:
		return a.gone(r, kind, st, &model.Error{Status: 410, Code: "syncStateNotFound", Message: "The delta token has expired: directory delta tokens are valid for 7 days. Restart with a full synchronization."})
	case st.Snap && now.Sub(time.Unix(st.Round, 0)) > deltaSteadyState:
		return a.gone(r, kind, st, &model.Error{Status: 410, Code: "resyncRequired", Message: "Sync must reach steady state within 30 days. Restart with a full synchronization."})
	case !st.Snap && st.From < base:
		return a.gone(r, kind, st, errSyncStateNotFound)
	}
	return nil
}

// gone is a 410 with a Location header: the initial request with an empty
// $deltatoken.
func (a *API) gone(r *request, kind string, st *deltaState, err *model.Error) *wire.Response {
	resp := a.fail(r, err)
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
	resp.Header.Set("Location", u+"$deltatoken=")
	return resp
}

func deltaResponse(a *API, r *request, k deltaNamer, st *deltaState, nextTok, deltaTok string, items []byte) *wire.Response {
	var env jsonw.Object
	env.Begin(make([]byte, 0, len(items)+512))
	env.Str("@odata.context", a.contextURL(r, odata.ContextFragment(k.set(), k.contextNames(st.Sel))))
	if nextTok != "" {
		env.Str("@odata.nextLink", r.base+"/v1.0/"+k.set()+"/delta?$skiptoken="+nextTok)
	} else {
		env.Str("@odata.deltaLink", r.base+"/v1.0/"+k.set()+"/delta?$deltatoken="+deltaTok)
	}
	env.Key("value")
	env.B = append(env.B, '[')
	env.B = append(env.B, items...)
	env.B = append(env.B, ']')
	return wire.OK(200, env.End())
}
