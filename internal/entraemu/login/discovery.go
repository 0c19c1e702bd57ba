package login

import (
	"encoding/base64"
	"math/big"
	"net/url"
	"strings"

	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

func (a *Authority) openIDConfig(v2 bool) func(*call) *wire.Response {
	return func(c *call) *wire.Response {
		if tenant := c.r.PathValue("tenant"); !a.matchesTenant(tenant) {
			return a.tenantNotFound(c, tenant)
		}
		return wire.JSON(200, a.openIDDocument(c.base, v2))
	}
}

func (a *Authority) openIDDocument(base string, v2 bool) map[string]any {
	tb := base + "/" + a.tenant.ID
	host := strings.TrimPrefix(base, "https://")
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
		"cloud_instance_name":                   host,
		"cloud_graph_host_name":                 host,
		"msgraph_host":                          host,
		"rbac_url":                              base,
	}
	if !v2 {
		cfg["issuer"] = base + "/" + a.tenant.ID + "/"
		cfg["token_endpoint"] = tb + "/oauth2/token"
		cfg["authorization_endpoint"] = tb + "/oauth2/authorize"
		cfg["jwks_uri"] = base + "/common/discovery/keys"
	}
	return cfg
}

// instanceDiscovery answers as login.microsoftonline.com does for its own
// host; azidentity calls it unless DisableInstanceDiscovery is set.
func (a *Authority) instanceDiscovery(c *call) *wire.Response {
	host := strings.TrimPrefix(c.base, "https://")
	tenant := "common"
	if ae := c.r.URL.Query().Get("authorization_endpoint"); ae != "" {
		if u, err := url.Parse(ae); err == nil {
			if seg := strings.Split(strings.Trim(u.Path, "/"), "/"); len(seg) > 0 && seg[0] != "" {
				tenant = seg[0]
			}
		}
	}
	return wire.JSON(200, map[string]any{
		"tenant_discovery_endpoint": c.base + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

func (a *Authority) keys(*call) *wire.Response {
	pub := &a.signKey.PublicKey
	e := big.NewInt(int64(pub.E)).Bytes()
	return wire.JSON(200, map[string]any{"keys": []map[string]any{{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    a.kid,
		"x5t":    a.kid,
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(e),
		"issuer": "https://login.microsoftonline.com/" + a.tenant.ID + "/v2.0",
	}}})
}
