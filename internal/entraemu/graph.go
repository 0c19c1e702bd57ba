package entraemu

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// greq is one Graph request, from the wire or from inside a $batch.
type greq struct {
	ctx    context.Context
	method string
	path   string // below /v1.0, e.g. /users/{id}/memberOf
	segs   []string
	raw    string     // the raw query string, kept for nextLinks
	query  url.Values // keys normalized: lower case, with "$"
	header http.Header
	body   []byte
	base   string // https://host as the client called it
	tok    *tokenInfo
	ids    reqIDs
	sub    bool // inside $batch
}

// Graph's OData keys are case-insensitive and may omit the "$".
var odataKeys = []string{"select", "filter", "top", "count", "search", "orderby", "expand", "skiptoken", "deltatoken", "skip"}

func normalizeQuery(raw string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, err
	}
	out := url.Values{}
	for k, v := range q {
		lk := strings.ToLower(k)
		if slices.Contains(odataKeys, strings.TrimPrefix(lk, "$")) {
			lk = "$" + strings.TrimPrefix(lk, "$")
		} else {
			lk = k
		}
		out[lk] = append(out[lk], v...)
	}
	return out, nil
}

// splitPath splits a Graph path into segments. Object ids are GUIDs, which
// Graph matches in any case; they are kept in lower case, as stored.
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if isGUID(s) {
			segs[i] = strings.ToLower(s)
		}
	}
	return segs
}

func (s *Server) serveGraphHTTP(w http.ResponseWriter, r *http.Request, ids reqIDs) {
	t := s.t
	now := t.now()
	tok, msg := t.authenticate(r.Header.Get("Authorization"), now)
	if tok == nil {
		resp := graphError(401, "InvalidAuthenticationToken", msg, ids, now)
		resp.header.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="https://%s/common/oauth2/authorize", client_id="%s"`, r.Host, graphAppID))
		writeResponse(w, resp)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		writeResponse(w, graphError(400, "BadRequest", "The request body could not be read.", ids, now))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1.0")
	q, err := normalizeQuery(r.URL.RawQuery)
	if err != nil {
		writeResponse(w, graphError(400, "BadRequest", "The query specified in the URI is not valid.", ids, now))
		return
	}
	req := &greq{
		ctx: r.Context(), method: r.Method, path: path, segs: splitPath(path), raw: r.URL.RawQuery, query: q,
		header: r.Header, body: body, base: "https://" + r.Host, tok: tok, ids: ids,
	}
	if len(req.segs) == 1 && req.segs[0] == "$batch" {
		t.stats.kind("batch")
		writeResponse(w, s.serveBatch(req))
		return
	}
	writeResponse(w, t.handle(req))
}

// graphError is Graph's error body.
func graphError(status int, code, msg string, ids reqIDs, now time.Time) *gresp {
	if code == codeConflict {
		code = codeBadRequest
	}
	var o obj
	o.begin(nil)
	o.key("error")
	var e obj
	e.begin(o.b)
	e.str("code", code)
	e.str("message", msg)
	e.key("innerError")
	var ie obj
	ie.begin(e.b)
	ie.str("date", now.UTC().Format("2006-01-02T15:04:05"))
	ie.str("request-id", ids.request)
	ie.str("client-request-id", ids.client)
	e.b = ie.end()
	o.b = e.end()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	return &gresp{status: status, header: h, body: o.end()}
}

func (r *greq) fail(t *Tenant, err *apiError) *gresp {
	return graphError(err.status, err.code, err.msg, r.ids, t.now())
}

func (r *greq) errorf(t *Tenant, status int, code, format string, args ...any) *gresp {
	return graphError(status, code, fmt.Sprintf(format, args...), r.ids, t.now())
}

// ok wraps a JSON body in Graph's success headers.
func okJSON(status int, body []byte) *gresp {
	h := http.Header{}
	h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	return &gresp{status: status, header: h, body: body}
}

func noContent() *gresp {
	h := http.Header{}
	h.Set("Cache-Control", "no-cache")
	return &gresp{status: 204, header: h}
}

// route is a resolved Graph endpoint.
type route struct {
	kind  string   // counter name
	perms []string // any one of these roles allows the call
	write bool
	h     func(*greq) *gresp
}

var (
	permsUserRead    = []string{PermUserReadAll, PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsGroupRead   = []string{PermGroupMemberReadAll, PermGroupMemberReadWriteAll, PermGroupReadAll, PermGroupReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsMemberOf    = []string{PermGroupMemberReadAll, PermGroupMemberReadWriteAll, PermGroupReadAll, PermGroupReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsUserWrite   = []string{PermUserReadWriteAll, PermDirectoryReadWriteAll}
	permsGroupWrite  = []string{PermGroupReadWriteAll, PermDirectoryReadWriteAll}
	permsMemberWrite = []string{PermGroupMemberReadWriteAll, PermGroupReadWriteAll, PermDirectoryReadWriteAll}
	permsOrg         = []string{PermOrganizationReadAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsDomains     = []string{PermDomainReadAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsSkus        = []string{PermLicenseAssignReadAll, PermOrganizationReadAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsDirRead     = []string{PermDirectoryReadAll, PermDirectoryReadWriteAll, PermUserReadAll, PermUserReadWriteAll, PermGroupReadAll, PermGroupReadWriteAll, PermGroupMemberReadAll}
	permsDeletedUser = []string{PermUserReadAll, PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsRestore     = []string{PermUserReadWriteAll, PermGroupReadWriteAll, PermDirectoryReadWriteAll}
)

// handle runs one Graph request: sub-request faults, routing, throttling,
// permission check, handler.
func (t *Tenant) handle(r *greq) *gresp {
	if r.sub {
		t.stats.batchSub.Add(1)
		if f := t.faults.match(r.method, "/v1.0"+r.path, true); f != nil {
			t.stats.faults.Add(1)
			return faultResponse(f, r.ids, t.now())
		}
	}
	rt, err := t.resolve(r)
	if err != nil {
		return r.fail(t, err)
	}
	t.stats.kind(rt.kind)
	cost := requestCost(r.method, r.segs, r.query)
	var th throttleResult
	if t.throttleOn.Load() {
		budget := t.budget()
		th = t.throttle.take(r.tok.appID, cost, rt.write, budget, t.now())
		if !th.ok {
			t.stats.throttled.Add(1)
			resp := r.errorf(t, 429, "TooManyRequests", "Too many requests. Retry after %d seconds.", th.retryAfter)
			resp.header.Set("Retry-After", strconv.Itoa(max(th.retryAfter, 1)))
			limit, info := "ReadWrite", "ResourceUnitLimitExceeded"
			if th.writeLimit {
				limit, info = "Write", "WriteLimitExceeded"
			}
			resp.header.Set("x-ms-throttle-scope", "Tenant_Application/"+limit+"/"+r.tok.appID+"/"+t.id)
			resp.header.Set("x-ms-throttle-information", info)
			resp.header.Set("x-ms-resource-unit", strconv.Itoa(cost))
			return resp
		}
	}
	t.stats.ru.Add(int64(cost))
	var resp *gresp
	if !hasAnyRole(r.tok.roles, rt.perms) {
		resp = r.errorf(t, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	} else {
		resp = rt.h(r)
	}
	if resp.header == nil {
		resp.header = http.Header{}
	}
	resp.header.Set("x-ms-resource-unit", strconv.Itoa(cost))
	if th.usage > 0.8 {
		resp.header.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(min(th.usage, 1.8), 'f', 1, 64))
	}
	return resp
}

func hasAnyRole(roles, allowed []string) bool {
	for _, r := range roles {
		if slices.Contains(allowed, r) {
			return true
		}
	}
	return false
}

// deltaSeg reports whether a segment is the delta function.
func deltaSeg(s string) bool {
	return s == "delta" || s == "delta()" || s == "microsoft.graph.delta" || s == "microsoft.graph.delta()"
}

// resolve maps a request to its endpoint, or to Graph's error for a path
// or method it does not serve.
func (t *Tenant) resolve(r *greq) (*route, *apiError) {
	s := r.segs
	m := r.method
	bad := func() (*route, *apiError) {
		if len(s) == 0 {
			return nil, &apiError{400, "BadRequest", "Invalid request."}
		}
		last := s[len(s)-1]
		return nil, &apiError{400, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", last)}
	}
	notAllowed := func() (*route, *apiError) {
		return nil, &apiError{405, codeBadRequest, "Specified HTTP method is not allowed for the request target."}
	}
	get := func(kind string, perms []string, h func(*greq) *gresp) (*route, *apiError) {
		if m != http.MethodGet {
			return notAllowed()
		}
		return &route{kind: kind, perms: perms, h: h}, nil
	}
	if len(s) == 0 {
		return bad()
	}
	switch s[0] {
	case "me":
		return nil, &apiError{400, "BadRequest", "/me request is only valid with delegated authentication flow."}
	case "organization":
		if len(s) > 2 {
			return bad()
		}
		return get("organization", permsOrg, t.getOrganization)
	case "domains":
		if len(s) > 2 {
			return bad()
		}
		return get("domains", permsDomains, t.getDomains)
	case "subscribedSkus":
		if len(s) > 2 {
			return bad()
		}
		return get("subscribedSkus", permsSkus, t.getSkus)
	case "directoryObjects":
		if len(s) != 2 {
			return bad()
		}
		return get("directoryObjects", permsDirRead, t.getDirectoryObject)
	case "directory":
		if len(s) < 3 || s[1] != "deletedItems" {
			return bad()
		}
		switch {
		case len(s) == 3 && strings.HasPrefix(s[2], "microsoft.graph."):
			return get("deletedItems", permsDeletedUser, t.listDeleted)
		case len(s) == 3 && m == http.MethodGet:
			return get("deletedItems", permsDeletedUser, t.getDeleted)
		case len(s) == 3 && m == http.MethodDelete:
			return &route{kind: "deletedItems", perms: permsRestore, write: true, h: t.purgeDeleted}, nil
		case len(s) == 4 && s[3] == "restore":
			if m != http.MethodPost {
				return notAllowed()
			}
			return &route{kind: "restore", perms: permsRestore, write: true, h: t.restoreDeleted}, nil
		}
		return bad()
	case "users":
		return t.resolveUsers(r, get, bad, notAllowed)
	case "groups":
		return t.resolveGroups(r, get, bad, notAllowed)
	}
	return bad()
}

type (
	getFn func(string, []string, func(*greq) *gresp) (*route, *apiError)
	errFn func() (*route, *apiError)
)

func (t *Tenant) resolveUsers(r *greq, get getFn, bad, notAllowed errFn) (*route, *apiError) {
	s, m := r.segs, r.method
	switch {
	case len(s) == 1:
		switch m {
		case http.MethodGet:
			return &route{kind: "users", perms: permsUserRead, h: t.listUsers}, nil
		case http.MethodPost:
			return &route{kind: "users.create", perms: permsUserWrite, write: true, h: t.postUser}, nil
		}
		return notAllowed()
	case len(s) == 2 && s[1] == "$count":
		return get("users.count", permsUserRead, t.countUsers)
	case len(s) == 2 && deltaSeg(s[1]):
		return get("users.delta", permsUserRead, t.userDelta)
	case len(s) == 2:
		switch m {
		case http.MethodGet:
			return &route{kind: "user", perms: permsUserRead, h: t.getUser}, nil
		case http.MethodPatch:
			return &route{kind: "user.update", perms: permsUserWrite, write: true, h: t.patchUser}, nil
		case http.MethodDelete:
			return &route{kind: "user.delete", perms: permsUserWrite, write: true, h: t.deleteUser}, nil
		}
		return notAllowed()
	case len(s) >= 3 && (s[2] == "memberOf" || s[2] == "transitiveMemberOf"):
		if len(s) > 4 || (len(s) == 4 && s[3] != "$count" && s[3] != "microsoft.graph.group") {
			return bad()
		}
		return get(s[2], permsMemberOf, t.userMemberOf)
	}
	return bad()
}

func (t *Tenant) resolveGroups(r *greq, get getFn, bad, notAllowed errFn) (*route, *apiError) {
	s, m := r.segs, r.method
	switch {
	case len(s) == 1:
		switch m {
		case http.MethodGet:
			return &route{kind: "groups", perms: permsGroupRead, h: t.listGroups}, nil
		case http.MethodPost:
			return &route{kind: "groups.create", perms: permsGroupWrite, write: true, h: t.postGroup}, nil
		}
		return notAllowed()
	case len(s) == 2 && s[1] == "$count":
		return get("groups.count", permsGroupRead, t.countGroups)
	case len(s) == 2 && deltaSeg(s[1]):
		return get("groups.delta", permsGroupRead, t.groupDelta)
	case len(s) == 2:
		switch m {
		case http.MethodGet:
			return &route{kind: "group", perms: permsGroupRead, h: t.getGroup}, nil
		case http.MethodPatch:
			return &route{kind: "group.update", perms: permsGroupWrite, write: true, h: t.patchGroup}, nil
		case http.MethodDelete:
			return &route{kind: "group.delete", perms: permsGroupWrite, write: true, h: t.deleteGroup}, nil
		}
		return notAllowed()
	case len(s) == 4 && s[2] == "members" && s[3] == "$ref":
		if m != http.MethodPost {
			return notAllowed()
		}
		return &route{kind: "members.add", perms: permsMemberWrite, write: true, h: t.postMemberRef}, nil
	case len(s) == 5 && s[2] == "members" && s[4] == "$ref":
		if m != http.MethodDelete {
			return notAllowed()
		}
		return &route{kind: "members.remove", perms: permsMemberWrite, write: true, h: t.deleteMemberRef}, nil
	case len(s) >= 3 && (s[2] == "members" || s[2] == "transitiveMembers"):
		if len(s) > 5 {
			return bad()
		}
		return get(s[2], permsGroupRead, t.groupMembers)
	case len(s) >= 3 && (s[2] == "memberOf" || s[2] == "transitiveMemberOf"):
		if len(s) > 4 {
			return bad()
		}
		return get("group."+s[2], permsMemberOf, t.groupMemberOf)
	}
	return bad()
}

// ---- small endpoints ----

func (t *Tenant) contextURL(r *greq, fragment string) string {
	return r.base + "/v1.0/$metadata#" + fragment
}

func (t *Tenant) getOrganization(r *greq) *gresp {
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, "organization"))
	o.key("value")
	o.b = append(o.b, '[')
	var org obj
	org.begin(o.b)
	org.str("id", t.id)
	org.raw("deletedDateTime", []byte("null"))
	org.key("businessPhones")
	org.b = appendStrings(org.b, []string{"+1 425 555 0100"})
	org.str("city", "Redmond")
	org.str("country", "United States")
	org.str("countryLetterCode", "US")
	org.str("createdDateTime", graphTime(t.createdAt))
	org.str("displayName", t.displayName)
	org.raw("onPremisesLastSyncDateTime", []byte("null"))
	org.raw("onPremisesSyncEnabled", []byte("true"))
	org.str("preferredLanguage", "en")
	org.str("tenantType", "AAD")
	org.key("verifiedDomains")
	org.b = append(org.b, '[')
	for i, d := range t.Domains() {
		if i > 0 {
			org.b = append(org.b, ',')
		}
		var vd obj
		vd.begin(org.b)
		vd.str("capabilities", "Email, OfficeCommunicationsOnline")
		vd.raw("isDefault", appendBool(nil, d.IsDefault))
		vd.raw("isInitial", appendBool(nil, d.IsInitial))
		vd.str("name", d.Name)
		vd.str("type", "Managed")
		org.b = vd.end()
	}
	org.b = append(org.b, ']')
	o.b = append(org.end(), ']')
	return okJSON(200, o.end())
}

func (t *Tenant) getDomains(r *greq) *gresp {
	domains := t.Domains()
	if len(r.segs) == 2 {
		for _, d := range domains {
			if strings.EqualFold(d.Name, r.segs[1]) {
				var o obj
				o.begin(nil)
				o.str("@odata.context", t.contextURL(r, "domains/$entity"))
				o.b = appendDomain(&o, d)
				return okJSON(200, o.end())
			}
		}
		return r.fail(t, notFound(r.segs[1]))
	}
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, "domains"))
	o.key("value")
	o.b = append(o.b, '[')
	for i, d := range domains {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		var do obj
		do.begin(o.b)
		o.b = appendDomain(&do, d)
		o.b = append(o.b, '}')
	}
	o.b = append(o.b, ']')
	return okJSON(200, o.end())
}

// appendDomain writes a domain's members into o and returns o's buffer
// (without the closing brace).
func appendDomain(o *obj, d Domain) []byte {
	o.str("authenticationType", "Managed")
	o.raw("availabilityStatus", []byte("null"))
	o.str("id", d.Name)
	o.raw("isAdminManaged", []byte("true"))
	o.raw("isDefault", appendBool(nil, d.IsDefault))
	o.raw("isInitial", appendBool(nil, d.IsInitial))
	o.raw("isRoot", []byte("true"))
	o.raw("isVerified", appendBool(nil, d.Verified))
	o.raw("passwordNotificationWindowInDays", []byte("14"))
	o.raw("passwordValidityPeriodInDays", []byte("2147483647"))
	o.key("supportedServices")
	o.b = appendStrings(o.b, []string{"Email", "OfficeCommunicationsOnline"})
	o.raw("state", []byte("null"))
	return o.b
}

func (t *Tenant) getSkus(r *greq) *gresp {
	t.mu.RLock()
	used := map[string]int{}
	for _, u := range t.users {
		for _, l := range u.AssignedLicenses {
			used[l.SkuID]++
		}
	}
	t.mu.RUnlock()
	var o obj
	o.begin(nil)
	o.str("@odata.context", t.contextURL(r, "subscribedSkus"))
	o.key("value")
	o.b = append(o.b, '[')
	for i, sku := range t.skus {
		if len(r.segs) == 2 && r.segs[1] != t.id+"_"+sku.SkuID {
			continue
		}
		if i > 0 && o.b[len(o.b)-1] != '[' {
			o.b = append(o.b, ',')
		}
		var so obj
		so.begin(o.b)
		so.str("accountName", t.displayName)
		so.str("accountId", t.id)
		so.str("appliesTo", "User")
		so.str("capabilityStatus", "Enabled")
		so.raw("consumedUnits", strconv.AppendInt(nil, int64(used[sku.SkuID]), 10))
		so.str("id", t.id+"_"+sku.SkuID)
		so.str("skuId", sku.SkuID)
		so.str("skuPartNumber", sku.SkuPartNumber)
		so.key("subscriptionIds")
		so.b = appendStrings(so.b, []string{spObjectID(sku.SkuID)})
		so.raw("prepaidUnits", []byte(fmt.Sprintf(`{"enabled":%d,"suspended":0,"warning":0,"lockedOut":0}`, sku.PrepaidUnits)))
		so.raw("servicePlans", []byte("[]"))
		o.b = so.end()
	}
	o.b = append(o.b, ']')
	return okJSON(200, o.end())
}
