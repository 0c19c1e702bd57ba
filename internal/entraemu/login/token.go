package login

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// tokenError is a refused token request: its status, OAuth error, AADSTS
// number and description.
type tokenError struct {
	status int
	code   string
	num    int
	desc   string
}

// token is the client credentials grant.
func (a *Authority) token(c *call) *wire.Response {
	if c.r.Method != http.MethodPost {
		return a.aadError(c, 405, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a "+c.r.Method+" request.")
	}
	if tenant := c.r.PathValue("tenant"); !a.matchesTenant(tenant) {
		a.stats.LoginFailures.Add(1)
		return a.tenantNotFound(c, tenant)
	}
	resp, terr := a.grant(c)
	if terr != nil {
		a.stats.LoginFailures.Add(1)
		return a.aadError(c, terr.status, terr.code, terr.num, terr.desc)
	}
	return resp
}

func (a *Authority) grant(c *call) (*wire.Response, *tokenError) {
	form, terr := readForm(c.r)
	if terr != nil {
		return nil, terr
	}
	app, acr, terr := a.client(c, form)
	if terr != nil {
		return nil, terr
	}
	resource, terr := a.resource(c, form.Get("scope"))
	if terr != nil {
		return nil, terr
	}
	life := time.Duration(a.tokenLife.Load())
	tok := a.issue(&app, resource, acr, c.base, a.clock.Now(), life)
	secs := max(int(life/time.Second)-1, 1)
	resp := wire.JSON(200, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
	resp.Header.Set("Cache-Control", "no-store, no-cache")
	resp.Header.Set("Pragma", "no-cache")
	resp.Header.Set("x-ms-request-id", c.ids.Request)
	return resp, nil
}

func readForm(r *http.Request) (url.Values, *tokenError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, &tokenError{400, "invalid_request", 900144, "The request body could not be read."}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &tokenError{400, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded."}
	}
	grant := form.Get("grant_type")
	if grant == "" {
		return nil, &tokenError{400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."}
	}
	if grant != "client_credentials" {
		return nil, &tokenError{400, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)}
	}
	if user, pass, ok := r.BasicAuth(); ok {
		id, _ := url.QueryUnescape(user)
		secret, _ := url.QueryUnescape(pass)
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	return form, nil
}

// client authenticates the app by its secret or its client assertion, and
// returns it with its authentication method (appidacr: 1 secret, 2
// certificate).
func (a *Authority) client(c *call, form url.Values) (model.App, string, *tokenError) {
	clientID := form.Get("client_id")
	if clientID == "" {
		return model.App{}, "", &tokenError{400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."}
	}
	app, ok := a.App(clientID)
	if !ok {
		return app, "", &tokenError{400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, a.tenant.DisplayName)}
	}
	assertion, secret := form.Get("client_assertion"), form.Get("client_secret")
	switch {
	case assertion != "":
		if at := form.Get("client_assertion_type"); at != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return app, "", &tokenError{400, "invalid_request", 50027, "Invalid client_assertion_type: the value must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer."}
		}
		if num, desc := a.checkAssertion(assertion, &app, c.base, a.clock.Now()); num != 0 {
			return app, "", &tokenError{401, "invalid_client", num, desc}
		}
		return app, "2", nil
	case secret != "":
		if app.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) != 1 {
			return app, "", &tokenError{401, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID)}
		}
		if app.SecretExpired {
			return app, "", &tokenError{401, "invalid_client", 7000222, fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", app.ClientID)}
		}
		return app, "1", nil
	}
	return app, "", &tokenError{401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

// resource checks the scope: one resource with /.default (MSAL's OpenID
// scopes aside), and that resource must be Microsoft Graph.
func (a *Authority) resource(c *call, scope string) (string, *tokenError) {
	scope = strings.TrimSpace(scope)
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
		return "", &tokenError{400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
	}
	resource := strings.TrimSuffix(strings.TrimSuffix(scopes[0], "/.default"), "/")
	if !a.isGraphResource(resource, c.base) {
		return "", &tokenError{400, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, a.tenant.DisplayName)}
	}
	return resource, nil
}

// isGraphResource reports whether a token resource is Microsoft Graph: this
// server (the custom Graph endpoint, by the name the client used or by
// URL) or Graph's global names.
func (a *Authority) isGraphResource(res, base string) bool {
	res = strings.ToLower(res)
	return res == strings.ToLower(base) || res == strings.ToLower(a.graphURL()) || res == "https://graph.microsoft.com" || res == GraphAppID
}
