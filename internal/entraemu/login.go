package entraemu

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The login endpoints are those MSAL uses for the client credentials flow
// with a custom authority: OpenID configuration, instance discovery (which
// azidentity skips with DisableInstanceDiscovery) and the v2.0 token
// endpoint. Errors carry Microsoft's AADSTS codes in Microsoft's body shape.

// graphAppID is Microsoft Graph's well-known application id, one of the
// audiences Graph accepts.
const graphAppID = "00000003-0000-0000-c000-000000000000"

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request, ids reqIDs) {
	t := s.t
	base := "https://" + r.Host
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 3 && parts[0] == "common" && parts[1] == "discovery" && parts[2] == "instance" {
		t.stats.kind("instanceDiscovery")
		writeResponse(w, s.instanceDiscovery(r, base))
		return
	}
	if len(parts) < 2 {
		writeResponse(w, aadError(404, "not_found", 0, "The requested resource was not found.", ids, t.now(), base))
		return
	}
	tenant := parts[0]
	rest := strings.Join(parts[1:], "/")
	switch rest {
	case "v2.0/.well-known/openid-configuration", ".well-known/openid-configuration":
		t.stats.kind("openidConfiguration")
		if !t.matchesTenant(tenant) {
			writeResponse(w, tenantNotFound(tenant, ids, t.now(), base))
			return
		}
		writeResponse(w, jsonResponse(200, t.openIDConfig(base, rest != ".well-known/openid-configuration")))
	case "discovery/v2.0/keys", "discovery/keys":
		t.stats.kind("keys")
		writeResponse(w, jsonResponse(200, t.jwks()))
	case "oauth2/v2.0/token":
		t.stats.kind("token")
		if r.Method != http.MethodPost {
			writeResponse(w, aadError(405, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a "+r.Method+" request.", ids, t.now(), base))
			return
		}
		writeResponse(w, s.token(r, tenant, base, ids))
	default:
		writeResponse(w, aadError(404, "not_found", 0, "The requested resource was not found.", ids, t.now(), base))
	}
}

// matchesTenant reports whether a tenant segment names this tenant: by id
// or by one of its domains, case-insensitively.
func (t *Tenant) matchesTenant(s string) bool {
	s = strings.ToLower(s)
	return s == strings.ToLower(t.id) || s == t.domain || s == t.initialDomain
}

func tenantNotFound(tenant string, ids reqIDs, now time.Time, base string) *gresp {
	return aadError(400, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant), ids, now, base)
}

// aadError is Microsoft's login error body. The description carries the
// AADSTS code and ends with the trace, correlation and timestamp lines.
func aadError(status int, code string, num int, desc string, ids reqIDs, now time.Time, base string) *gresp {
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	full := desc
	if num != 0 {
		full = fmt.Sprintf("AADSTS%d: %s", num, desc)
	}
	full += "\r\nTrace ID: " + ids.request + "\r\nCorrelation ID: " + ids.client + "\r\nTimestamp: " + ts
	body := map[string]any{
		"error":             code,
		"error_description": full,
		"error_codes":       []int{num},
		"timestamp":         ts,
		"trace_id":          ids.request,
		"correlation_id":    ids.client,
		"error_uri":         fmt.Sprintf("%s/error?code=%d", base, num),
	}
	if num == 0 {
		body["error_codes"] = []int{}
	}
	resp := jsonResponse(status, body)
	resp.header.Set("Cache-Control", "no-store, no-cache")
	resp.header.Set("Pragma", "no-cache")
	resp.header.Set("x-ms-request-id", ids.request)
	return resp
}

func jsonResponse(status int, v any) *gresp {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &gresp{status: status, header: h, body: mustJSON(v)}
}

func (t *Tenant) openIDConfig(base string, v2 bool) map[string]any {
	tb := base + "/" + t.id
	cfg := map[string]any{
		"token_endpoint":                        tb + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              tb + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                tb + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"authorization_endpoint":                tb + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         tb + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  tb + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     tb + "/kerberos",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   strings.TrimPrefix(base, "https://"),
		"cloud_graph_host_name":                 strings.TrimPrefix(base, "https://"),
		"msgraph_host":                          strings.TrimPrefix(base, "https://"),
		"rbac_url":                              base,
	}
	if !v2 {
		cfg["issuer"] = base + "/" + t.id + "/"
		cfg["token_endpoint"] = tb + "/oauth2/token"
		cfg["authorization_endpoint"] = tb + "/oauth2/authorize"
		cfg["jwks_uri"] = base + "/common/discovery/keys"
	}
	return cfg
}

func (s *Server) instanceDiscovery(r *http.Request, base string) *gresp {
	host := strings.TrimPrefix(base, "https://")
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		if u, err := url.Parse(ae); err == nil {
			if seg := strings.Split(strings.Trim(u.Path, "/"), "/"); len(seg) > 0 && seg[0] != "" {
				tenant = seg[0]
			}
		}
	}
	return jsonResponse(200, map[string]any{
		"tenant_discovery_endpoint": base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

func (t *Tenant) jwks() map[string]any {
	pub := &t.signKey.PublicKey
	e := big.NewInt(int64(pub.E)).Bytes()
	return map[string]any{"keys": []map[string]any{{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    t.kid,
		"x5t":    t.kid,
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(e),
		"issuer": "https://login.microsoftonline.com/" + t.id + "/v2.0",
	}}}
}

// token is the client credentials grant.
func (s *Server) token(r *http.Request, tenant, base string, ids reqIDs) *gresp {
	t := s.t
	now := t.now()
	fail := func(status int, code string, num int, desc string) *gresp {
		t.stats.loginFailures.Add(1)
		return aadError(status, code, num, desc, ids, now, base)
	}
	if !t.matchesTenant(tenant) {
		t.stats.loginFailures.Add(1)
		return tenantNotFound(tenant, ids, now, base)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fail(400, "invalid_request", 900144, "The request body could not be read.")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return fail(400, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
	}
	grant := form.Get("grant_type")
	if grant == "" {
		return fail(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	}
	if grant != "client_credentials" {
		return fail(400, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		clientID, _ = url.QueryUnescape(user)
		secret, _ = url.QueryUnescape(pass)
	}
	if clientID == "" {
		return fail(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	}
	t.mu.RLock()
	app, ok := t.apps[clientID]
	var a App
	if ok {
		a = cloneApp(app)
	}
	t.mu.RUnlock()
	if !ok {
		return fail(400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, t.displayName))
	}
	assertion := form.Get("client_assertion")
	acr := "1"
	switch {
	case assertion != "":
		if at := form.Get("client_assertion_type"); at != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return fail(400, "invalid_request", 50027, "Invalid client_assertion_type: the value must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.")
		}
		if num, desc := t.checkAssertion(assertion, &a, base, now); num != 0 {
			return fail(401, "invalid_client", num, desc)
		}
		acr = "2"
	case secret != "":
		if a.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(a.Secret)) != 1 {
			return fail(401, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", a.ClientID))
		}
		if a.SecretExpired {
			return fail(401, "invalid_client", 7000222, fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", a.ClientID))
		}
	default:
		return fail(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	scope := strings.TrimSpace(form.Get("scope"))
	var scopes []string
	for _, sc := range strings.Fields(scope) {
		// MSAL adds the OpenID scopes to every request; Entra ignores
		// them for the client credentials grant.
		switch sc {
		case "openid", "offline_access", "profile", "email":
			continue
		}
		scopes = append(scopes, sc)
	}
	if len(scopes) != 1 || !strings.HasSuffix(scopes[0], "/.default") {
		return fail(400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
	}
	resource := strings.TrimSuffix(strings.TrimSuffix(scopes[0], "/.default"), "/")
	if !s.isGraphResource(resource, base) {
		return fail(400, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, t.displayName))
	}
	life := time.Duration(t.tokenLife.Load())
	tok := t.issueAccessToken(&a, resource, acr, base, now, life)
	secs := int(life/time.Second) - 1
	if secs < 1 {
		secs = 1
	}
	resp := jsonResponse(200, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
	resp.header.Set("Cache-Control", "no-store, no-cache")
	resp.header.Set("Pragma", "no-cache")
	resp.header.Set("x-ms-request-id", ids.request)
	return resp
}

// isGraphResource reports whether a token resource is Microsoft Graph: this
// server (the custom Graph endpoint, by the name the client used or by
// URL) or Graph's global names.
func (s *Server) isGraphResource(res, base string) bool {
	res = strings.ToLower(res)
	return res == strings.ToLower(base) || res == strings.ToLower(s.url) || res == "https://graph.microsoft.com" || res == graphAppID
}

// ---- JWT ----

type accessClaims struct {
	Aud            string   `json:"aud"`
	Iss            string   `json:"iss"`
	Iat            int64    `json:"iat"`
	Nbf            int64    `json:"nbf"`
	Exp            int64    `json:"exp"`
	AppDisplayName string   `json:"app_displayname"`
	AppID          string   `json:"appid"`
	AppIDAcr       string   `json:"appidacr"`
	Idp            string   `json:"idp"`
	Idtyp          string   `json:"idtyp"`
	Oid            string   `json:"oid"`
	Roles          []string `json:"roles,omitempty"`
	Sub            string   `json:"sub"`
	Tid            string   `json:"tid"`
	Uti            string   `json:"uti"`
	Ver            string   `json:"ver"`
	// Serial orders tokens against ExpireAccessTokens, whatever the clock.
	Serial int64 `json:"xms_emu_serial"`
}

func (t *Tenant) issueAccessToken(a *App, resource, acr, base string, now time.Time, life time.Duration) string {
	iss := base + "/" + t.id + "/"
	c := accessClaims{
		Aud: resource, Iss: iss, Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(life).Unix(),
		AppDisplayName: a.DisplayName, AppID: a.ClientID, AppIDAcr: acr, Idp: iss, Idtyp: "app",
		Oid: spObjectID(a.ClientID), Sub: spObjectID(a.ClientID), Tid: t.id, Uti: newUti(),
		Ver: "1.0", Serial: t.tokenSerial.Add(1),
	}
	if len(a.Roles) > 0 {
		c.Roles = slices.Clone(a.Roles)
	}
	header := map[string]string{"typ": "JWT", "alg": "RS256", "x5t": t.kid, "kid": t.kid}
	signing := b64url(mustJSON(header)) + "." + b64url(mustJSON(c))
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, t.signKey, crypto.SHA256, sum[:])
	if err != nil {
		panic("entraemu: sign token: " + err.Error())
	}
	return signing + "." + b64url(sig)
}

func newUti() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("entraemu: random: " + err.Error())
	}
	return b64url(b[:])
}

// spObjectID is the object id of an app's service principal in this
// tenant, derived from the client id so it is stable.
func spObjectID(clientID string) string {
	sum := sha256.Sum256([]byte("sp:" + clientID))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// decodeB64 accepts the base64 variants clients use in JWT headers.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

type jwtParts struct {
	header  map[string]any
	claims  []byte
	signing string
	sig     []byte
}

func splitJWT(tok string) (*jwtParts, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	hb, err := decodeB64(parts[0])
	if err != nil {
		return nil, err
	}
	cb, err := decodeB64(parts[1])
	if err != nil {
		return nil, err
	}
	sig, err := decodeB64(parts[2])
	if err != nil {
		return nil, err
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, err
	}
	return &jwtParts{header: h, claims: cb, signing: parts[0] + "." + parts[1], sig: sig}, nil
}

// checkAssertion verifies a client assertion (private_key_jwt): signed by
// the app's registered certificate, identified by x5t (SHA-1) or x5t#S256,
// for this token endpoint, in its validity window. It returns an AADSTS
// number and description on failure.
func (t *Tenant) checkAssertion(assertion string, a *App, base string, now time.Time) (int, string) {
	p, err := splitJWT(assertion)
	if err != nil {
		return 50027, "JWT token is invalid or malformed."
	}
	if a.Certificate == nil {
		return 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]"
	}
	alg, _ := p.header["alg"].(string)
	var want []byte
	var got string
	if v, ok := p.header["x5t#S256"].(string); ok {
		sum := sha256.Sum256(a.Certificate.Raw)
		want, got = sum[:], v
	} else if v, ok := p.header["x5t"].(string); ok {
		sum := sha1.Sum(a.Certificate.Raw)
		want, got = sum[:], v
	}
	if gotRaw, err := decodeB64(got); err != nil || !bytes.Equal(gotRaw, want) {
		return 700027, fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s']", got)
	}
	pub, ok := a.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return 700027, "Client assertion failed signature validation. [Reason - The certificate key is not an RSA key.]"
	}
	sum := sha256.Sum256([]byte(p.signing))
	switch alg {
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], p.sig)
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], p.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		err = fmt.Errorf("alg %q", alg)
	}
	if err != nil {
		return 700027, "Client assertion failed signature validation."
	}
	var c struct {
		Aud any    `json:"aud"`
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
		Nbf int64  `json:"nbf"`
	}
	if err := json.Unmarshal(p.claims, &c); err != nil {
		return 50027, "JWT token is invalid or malformed."
	}
	if c.Iss != a.ClientID || c.Sub != a.ClientID {
		return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
	}
	if !t.audienceOK(c.Aud, base) {
		return 700212, "No matching federated identity record found for presented assertion audience."
	}
	const skew = 5 * 60
	if c.Exp == 0 || now.Unix() > c.Exp+skew || (c.Nbf != 0 && now.Unix()+skew < c.Nbf) {
		return 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), time.Unix(c.Nbf, 0).UTC().Format(time.RFC3339), time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	return 0, ""
}

func (t *Tenant) audienceOK(aud any, base string) bool {
	var auds []string
	switch v := aud.(type) {
	case string:
		auds = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	for _, a := range auds {
		u, err := url.Parse(a)
		if err != nil || !strings.EqualFold("https://"+u.Host, base) {
			continue
		}
		seg := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(seg) >= 1 && t.matchesTenant(seg[0]) {
			return true
		}
	}
	return false
}

// tokenInfo is what Graph learns from a valid access token.
type tokenInfo struct {
	appID string
	roles []string
}

// authenticate validates a bearer token as Graph does. The error texts are
// Graph's InvalidAuthenticationToken messages.
func (t *Tenant) authenticate(authz string, now time.Time) (*tokenInfo, string) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(authz, "bearer ")
	}
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return nil, "Access token is empty."
	}
	if !strings.Contains(tok, ".") {
		return nil, "IDX14100: JWT is not well formed, there are no dots (.)."
	}
	p, err := splitJWT(tok)
	if err != nil {
		return nil, "Access token validation failure."
	}
	sum := sha256.Sum256([]byte(p.signing))
	if alg, _ := p.header["alg"].(string); alg != "RS256" || rsa.VerifyPKCS1v15(&t.signKey.PublicKey, crypto.SHA256, sum[:], p.sig) != nil {
		return nil, "Access token validation failure."
	}
	var c accessClaims
	if err := json.Unmarshal(p.claims, &c); err != nil {
		return nil, "Access token validation failure."
	}
	if c.Tid != t.id {
		return nil, "Access token validation failure. Invalid audience."
	}
	if now.Unix() >= c.Exp || c.Serial <= t.tokensRevoked.Load() {
		return nil, "Lifetime validation failed, the token is expired."
	}
	if now.Unix()+300 < c.Nbf {
		return nil, "Lifetime validation failed, the token is not yet valid."
	}
	return &tokenInfo{appID: c.AppID, roles: c.Roles}, ""
}

// ParseCertificatePEM is a small helper for callers registering an app's
// certificate from a PEM file.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("entraemu: no certificate in PEM data")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
		data = rest
	}
}
