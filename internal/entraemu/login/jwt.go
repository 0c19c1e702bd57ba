package login

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/jsonw"
	"github.com/dirsync/dirsync/internal/entraemu/model"
)

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

func (a *Authority) issue(app *model.App, resource, acr, base string, now time.Time, life time.Duration) string {
	iss := base + "/" + a.tenant.ID + "/"
	c := accessClaims{
		Aud: resource, Iss: iss, Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(life).Unix(),
		AppDisplayName: app.DisplayName, AppID: app.ClientID, AppIDAcr: acr, Idp: iss, Idtyp: "app",
		Oid: SPObjectID(app.ClientID), Sub: SPObjectID(app.ClientID), Tid: a.tenant.ID, Uti: newUti(),
		Ver: "1.0", Serial: a.tokenSerial.Add(1),
	}
	if len(app.Roles) > 0 {
		c.Roles = slices.Clone(app.Roles)
	}
	header := map[string]string{"typ": "JWT", "alg": "RS256", "x5t": a.kid, "kid": a.kid}
	signing := b64url(jsonw.Marshal(header)) + "." + b64url(jsonw.Marshal(c))
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, a.signKey, crypto.SHA256, sum[:])
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

// SPObjectID is the object id of an app's service principal in this
// tenant, derived from the client id so it is stable.
func SPObjectID(clientID string) string {
	sum := sha256.Sum256([]byte("sp:" + clientID))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return model.FormatGUID(b)
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
func (a *Authority) checkAssertion(assertion string, app *model.App, base string, now time.Time) (int, string) {
	p, err := splitJWT(assertion)
	if err != nil {
		return 50027, "JWT token is invalid or malformed."
	}
	if app.Certificate == nil {
		return 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]"
	}
	alg, _ := p.header["alg"].(string)
	var want []byte
	var got string
	if v, ok := p.header["x5t#S256"].(string); ok {
		sum := sha256.Sum256(app.Certificate.Raw)
		want, got = sum[:], v
	} else if v, ok := p.header["x5t"].(string); ok {
		sum := sha1.Sum(app.Certificate.Raw)
		want, got = sum[:], v
	}
	if gotRaw, err := decodeB64(got); err != nil || !bytes.Equal(gotRaw, want) {
		return 700027, fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s']", got)
	}
	pub, ok := app.Certificate.PublicKey.(*rsa.PublicKey)
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
	if c.Iss != app.ClientID || c.Sub != app.ClientID {
		return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
	}
	if !a.audienceOK(c.Aud, base) {
		return 700212, "No matching federated identity record found for presented assertion audience."
	}
	const skew = 5 * 60
	if c.Exp == 0 || now.Unix() > c.Exp+skew || (c.Nbf != 0 && now.Unix()+skew < c.Nbf) {
		return 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), time.Unix(c.Nbf, 0).UTC().Format(time.RFC3339), time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	return 0, ""
}

func (a *Authority) audienceOK(aud any, base string) bool {
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
	for _, s := range auds {
		u, err := url.Parse(s)
		if err != nil || !strings.EqualFold("https://"+u.Host, base) {
			continue
		}
		seg := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(seg) >= 1 && a.matchesTenant(seg[0]) {
			return true
		}
	}
	return false
}

// Principal is what Graph learns from a valid access token: the app that
// calls and the roles it was granted.
type Principal struct {
	AppID string
	Roles []string
}

// Authenticate validates a bearer token as Graph does. The error texts are
// Graph's InvalidAuthenticationToken messages.
func (a *Authority) Authenticate(authz string) (*Principal, string) {
	now := a.clock.Now()
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
	if alg, _ := p.header["alg"].(string); alg != "RS256" || rsa.VerifyPKCS1v15(&a.signKey.PublicKey, crypto.SHA256, sum[:], p.sig) != nil {
		return nil, "Access token validation failure."
	}
	var c accessClaims
	if err := json.Unmarshal(p.claims, &c); err != nil {
		return nil, "Access token validation failure."
	}
	if c.Tid != a.tenant.ID {
		return nil, "Access token validation failure. Invalid audience."
	}
	if now.Unix() >= c.Exp || c.Serial <= a.tokensRevoked.Load() {
		return nil, "Lifetime validation failed, the token is expired."
	}
	if now.Unix()+300 < c.Nbf {
		return nil, "Lifetime validation failed, the token is not yet valid."
	}
	return &Principal{AppID: c.AppID, Roles: c.Roles}, ""
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
