package entraemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func TestClientSecretTokenWorksOnGraph(t *testing.T) {
	tn, s := start(t, Options{Users: 20, Groups: 5, Seed: 1})
	c := s.Credentials()
	for _, tenant := range []string{c.TenantID, c.Domain, tn.InitialDomain(), strings.ToUpper(c.Domain)} {
		tok, err := getToken(t, s, secretCredential(t, s, tenant, c.ClientID, c.ClientSecret))
		if err != nil {
			t.Fatalf("tenant %q: %v", tenant, err)
		}
		cl := &client{t: t, s: s, hc: s.HTTPClient(), token: tok}
		r := cl.get("/v1.0/users?$top=5")
		if r.status != 200 || len(r.values()) != 5 {
			t.Fatalf("tenant %q: users: %d %s", tenant, r.status, r.raw)
		}
	}
	// The token is a JWT with the app's roles, for this tenant, expiring.
	tok, _ := getToken(t, s, secretCredential(t, s, c.TenantID, c.ClientID, c.ClientSecret))
	claims := tokenClaims(t, tok)
	if claims.Tid != c.TenantID || claims.AppID != c.ClientID || strings.Join(claims.Roles, " ") != strings.Join(ReadRoles, " ") || claims.Exp-claims.Iat != 3600 || claims.Idtyp != "app" {
		t.Errorf("claims = %+v", claims)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	tn, s := start(t, Options{Users: 5, Groups: 1, Seed: 2})
	c := s.Credentials()
	def := tn.DefaultApp()
	expired := App{ClientID: "11111111-2222-4333-8444-555555555555", Secret: "old-secret-value", SecretExpired: true, Roles: ReadRoles}
	if err := tn.AddApp(expired); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, tenant, clientID, secret string
		status                         string
		code                           string
	}{
		{"tenant not found", "nosuchtenant.example", c.ClientID, c.ClientSecret, "RESPONSE 400", "AADSTS90002"},
		{"tenant id not found", "6d8e1a5b-0000-4000-8000-000000000000", c.ClientID, c.ClientSecret, "RESPONSE 400", "AADSTS90002"},
		{"application not found", c.TenantID, "99999999-9999-4999-8999-999999999999", c.ClientSecret, "RESPONSE 400", "AADSTS700016"},
		{"wrong secret", c.TenantID, c.ClientID, "not-the-secret", "RESPONSE 401", "AADSTS7000215"},
		{"secret id instead of value", c.TenantID, c.ClientID, def.SecretID, "RESPONSE 401", "AADSTS7000215"},
		{"expired secret", c.TenantID, expired.ClientID, expired.Secret, "RESPONSE 401", "AADSTS7000222"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := getToken(t, s, secretCredential(t, s, tc.tenant, tc.clientID, tc.secret))
			if err == nil {
				t.Fatal("token issued")
			}
			if !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), tc.status) {
				t.Fatalf("error does not carry %s and %s:\n%v", tc.code, tc.status, err)
			}
			if strings.Contains(err.Error(), c.ClientSecret) {
				t.Error("the error shows the client secret")
			}
		})
	}
}

// The error body has exactly Microsoft's members.
func TestTokenErrorBodyShape(t *testing.T) {
	_, s := start(t, Options{Users: 5, Seed: 3})
	c := s.Credentials()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {"wrong"}, "scope": {s.URL() + "/.default"}}
	resp, err := s.HTTPClient().PostForm(s.URL()+"/"+c.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, k := range []string{"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"} {
		if _, ok := body[k]; !ok {
			t.Errorf("missing %q in %v", k, body)
		}
	}
	if len(body) != 7 {
		t.Errorf("extra members: %v", body)
	}
	if body["error"] != "invalid_client" || body["error_codes"].([]any)[0].(float64) != 7000215 {
		t.Errorf("body = %v", body)
	}
	desc := body["error_description"].(string)
	if !strings.HasPrefix(desc, "AADSTS7000215: Invalid client secret provided.") || !strings.Contains(desc, "\r\nTrace ID: ") || !strings.Contains(desc, "client secret value, not the client secret ID") {
		t.Errorf("description = %q", desc)
	}

	// A scope without /.default and a resource that is not Graph.
	for scope, code := range map[string]float64{"User.Read": 1002012, "https://management.azure.com/.default": 500011} {
		form.Set("client_secret", c.ClientSecret)
		form.Set("scope", scope)
		resp, err := s.HTTPClient().PostForm(s.URL()+"/"+c.TenantID+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		var b map[string]any
		json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if resp.StatusCode != 400 || b["error_codes"].([]any)[0].(float64) != code {
			t.Errorf("scope %q: %d %v", scope, resp.StatusCode, b)
		}
	}
}

func selfSignedCert(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "dirsync test app"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

func certCredential(t *testing.T, s *Server, tenant, clientID string, key *rsa.PrivateKey, cert *x509.Certificate) *azidentity.ClientCertificateCredential {
	t.Helper()
	cred, err := azidentity.NewClientCertificateCredential(tenant, clientID, []*x509.Certificate{cert}, key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL()},
			Transport: s.HTTPClient(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func TestClientCertificate(t *testing.T) {
	tn, s := start(t, Options{Users: 5, Seed: 4})
	key, cert := selfSignedCert(t)
	app := App{ClientID: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", Certificate: cert, Roles: ReadRoles}
	if err := tn.AddApp(app); err != nil {
		t.Fatal(err)
	}
	tok, err := getToken(t, s, certCredential(t, s, tn.ID(), app.ClientID, key, cert))
	if err != nil {
		t.Fatalf("certificate credential: %v", err)
	}
	cl := &client{t: t, s: s, hc: s.HTTPClient(), token: tok}
	if r := cl.get("/v1.0/users"); r.status != 200 {
		t.Fatalf("users: %d %s", r.status, r.raw)
	}
	claims := tokenClaims(t, tok)
	if claims.AppIDAcr != "2" {
		t.Errorf("appidacr = %q, want 2 (certificate)", claims.AppIDAcr)
	}

	// A certificate the app did not register: its thumbprint is unknown.
	otherKey, otherCert := selfSignedCert(t)
	if _, err := getToken(t, s, certCredential(t, s, tn.ID(), app.ClientID, otherKey, otherCert)); err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("unregistered certificate: %v", err)
	}
	// The registered certificate's thumbprint with another key's
	// signature (azidentity refuses to build that, so by hand), and an
	// expired assertion.
	tokenURL := s.URL() + "/" + tn.ID() + "/oauth2/v2.0/token"
	now := time.Now()
	for name, tc := range map[string]struct {
		key  *rsa.PrivateKey
		exp  time.Time
		code string
	}{
		"forged":  {otherKey, now.Add(10 * time.Minute), "AADSTS700027"},
		"expired": {key, now.Add(-time.Hour), "AADSTS700024"},
		"valid":   {key, now.Add(10 * time.Minute), ""},
	} {
		assertion := signAssertion(t, tc.key, cert, app.ClientID, tokenURL, tc.exp)
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}, "scope": {s.URL() + "/.default"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
		resp, err := s.HTTPClient().PostForm(tokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		var b map[string]any
		json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if tc.code == "" {
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d %v", name, resp.StatusCode, b)
			}
			continue
		}
		if resp.StatusCode != 401 || !strings.HasPrefix(b["error_description"].(string), tc.code) {
			t.Errorf("%s: %d %v", name, resp.StatusCode, b)
		}
	}
}

// signAssertion builds a client assertion as MSAL does: PS256 with the
// certificate's SHA-256 thumbprint in x5t#S256.
func signAssertion(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate, clientID, aud string, exp time.Time) string {
	t.Helper()
	thumb := sha256.Sum256(cert.Raw)
	header := mustJSON(map[string]string{"alg": "PS256", "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(thumb[:])})
	claims := mustJSON(map[string]any{"aud": aud, "iss": clientID, "sub": clientID, "jti": "j1", "nbf": exp.Add(-15 * time.Minute).Unix(), "exp": exp.Unix()})
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestGraphRefusesBadTokens(t *testing.T) {
	clock := newFakeClock()
	tn, s := start(t, Options{Users: 5, Seed: 5, Clock: clock})
	cl := newClient(t, s)

	r := (&client{t: t, s: s, hc: s.HTTPClient()}).get("/v1.0/users")
	if r.status != 401 || r.errorCode() != "InvalidAuthenticationToken" || r.errorMessage() != "Access token is empty." {
		t.Errorf("no token: %d %s", r.status, r.raw)
	}
	if !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no WWW-Authenticate: %v", r.header)
	}
	// Another tenant's signature.
	other, s2 := start(t, Options{Users: 1, Seed: 6})
	_ = other
	foreign := newClient(t, s2).token
	if r := (&client{t: t, s: s, hc: s.HTTPClient(), token: foreign}).get("/v1.0/users"); r.status != 401 {
		t.Errorf("foreign token: %d %s", r.status, r.raw)
	}
	// A tampered token: roles added without a valid signature.
	parts := strings.Split(cl.token, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	claims = []byte(strings.Replace(string(claims), `"roles":[`, `"roles":["Directory.ReadWrite.All",`, 1))
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + parts[2]
	if r := (&client{t: t, s: s, hc: s.HTTPClient(), token: forged}).get("/v1.0/users"); r.status != 401 {
		t.Errorf("tampered token: %d %s", r.status, r.raw)
	}

	if r := cl.get("/v1.0/users"); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	clock.Advance(61 * time.Minute)
	r = cl.get("/v1.0/users")
	if r.status != 401 || r.errorMessage() != "Lifetime validation failed, the token is expired." {
		t.Errorf("expired token: %d %s", r.status, r.raw)
	}

	// ExpireAccessTokens ends tokens issued before it, not after.
	cl = newClient(t, s)
	tn.ExpireAccessTokens()
	if r := cl.get("/v1.0/users"); r.status != 401 {
		t.Errorf("token after ExpireAccessTokens: %d", r.status)
	}
	if r := newClient(t, s).get("/v1.0/users"); r.status != 200 {
		t.Errorf("new token after ExpireAccessTokens: %d %s", r.status, r.raw)
	}
}

func TestTokenLifetime(t *testing.T) {
	tn, s := start(t, Options{Users: 1, Seed: 7, TokenLifetime: 10 * time.Minute})
	c := s.Credentials()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}}
	post := func() map[string]any {
		resp, err := s.HTTPClient().PostForm(s.URL()+"/"+c.Domain+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b map[string]any
		json.NewDecoder(resp.Body).Decode(&b)
		if resp.StatusCode != 200 {
			t.Fatalf("token: %d %v", resp.StatusCode, b)
		}
		return b
	}
	if b := post(); b["expires_in"].(float64) != 599 || b["token_type"] != "Bearer" {
		t.Errorf("token response = %v", b)
	}
	tn.SetTokenLifetime(time.Hour)
	if b := post(); b["expires_in"].(float64) != 3599 {
		t.Errorf("expires_in after SetTokenLifetime = %v", b["expires_in"])
	}
}

func TestAppWithoutConsentGets403(t *testing.T) {
	tn, s := start(t, Options{Users: 5, Groups: 3, Seed: 8})
	app := App{ClientID: "12345678-1234-4234-8234-123456789012", Secret: "s3cr3t-value"}
	tn.AddApp(app)
	tok, err := getToken(t, s, secretCredential(t, s, tn.ID(), app.ClientID, app.Secret))
	if err != nil {
		t.Fatalf("an app without roles still gets a token: %v", err)
	}
	if claims := tokenClaims(t, tok); claims.Roles != nil {
		t.Errorf("token of an app without consent has roles: %+v", claims)
	}
	cl := &client{t: t, s: s, hc: s.HTTPClient(), token: tok}
	for _, path := range []string{"/v1.0/users", "/v1.0/groups", "/v1.0/users/delta", "/v1.0/organization"} {
		r := cl.get(path)
		if r.status != 403 || r.errorCode() != "Authorization_RequestDenied" || r.errorMessage() != "Insufficient privileges to complete the operation." {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
	}
	// Only user permission: users yes, groups no.
	tn.AddApp(App{ClientID: app.ClientID, Secret: app.Secret, Roles: []string{PermUserReadAll}})
	tok, _ = getToken(t, s, secretCredential(t, s, tn.ID(), app.ClientID, app.Secret))
	cl.token = tok
	if r := cl.get("/v1.0/users"); r.status != 200 {
		t.Errorf("users with User.Read.All: %d", r.status)
	}
	if r := cl.get("/v1.0/groups/delta?$select=displayName,members"); r.status != 403 {
		t.Errorf("groups delta with User.Read.All only: %d", r.status)
	}
	// The read-only sync app cannot write.
	if r := newClient(t, s).do("POST", "/v1.0/groups", map[string]any{"displayName": "x", "mailEnabled": false, "mailNickname": "x", "securityEnabled": true}); r.status != 403 {
		t.Errorf("write with read roles: %d %s", r.status, r.raw)
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	tn, s := start(t, Options{Users: 1, Seed: 9})
	hc := s.HTTPClient()
	for _, tenant := range []string{tn.ID(), tn.Domain()} {
		resp, err := hc.Get(s.URL() + "/" + tenant + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		json.NewDecoder(resp.Body).Decode(&cfg)
		resp.Body.Close()
		if resp.StatusCode != 200 || cfg["issuer"] != s.URL()+"/"+tn.ID()+"/v2.0" || cfg["token_endpoint"] != s.URL()+"/"+tn.ID()+"/oauth2/v2.0/token" {
			t.Errorf("%s: %d %v", tenant, resp.StatusCode, cfg)
		}
	}
	resp, err := hc.Get(s.URL() + "/other.example/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 400 || e["error"] != "invalid_tenant" || !strings.HasPrefix(e["error_description"].(string), "AADSTS90002: Tenant 'other.example' not found.") {
		t.Errorf("unknown tenant: %d %v", resp.StatusCode, e)
	}
	// Instance discovery, which MSAL calls when it is not disabled.
	resp, err = hc.Get(s.URL() + "/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(s.URL()+"/"+tn.ID()+"/oauth2/v2.0/authorize"))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if d["tenant_discovery_endpoint"] != s.URL()+"/"+tn.ID()+"/v2.0/.well-known/openid-configuration" {
		t.Errorf("instance discovery: %v", d)
	}
}
