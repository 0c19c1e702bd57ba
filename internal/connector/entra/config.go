package entra

import (
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/graph"
)

// Config is an Entra ID source's settings, stored as JSON. It holds no
// secret: the client secret (or certificate and key) is passed to Open
// separately and sealed by the store.
type Config struct {
	// Tenant is the tenant ID (a GUID) or its primary domain.
	Tenant string `json:"tenant"`
	// ClientID is the application (client) ID of the app registration.
	ClientID string `json:"client_id"`
	// Cloud is global (default), usgov, usgovdod, china or custom.
	Cloud string `json:"cloud"`
	// AuthorityURL and GraphURL are the endpoints of a custom cloud (a
	// proxy, the emulator), both https.
	AuthorityURL string `json:"authority_url,omitempty"`
	GraphURL     string `json:"graph_url,omitempty"`
	// CAPEM holds extra trusted CA certificates, already read from the file.
	CAPEM string `json:"ca_pem,omitempty"`
	// AuthMethod is "secret" (default) or "certificate"; with a certificate
	// the secret holds the PEM certificate and its private key.
	AuthMethod string `json:"auth_method"`
	// SecretExpires is when the client secret expires, YYYY-MM-DD, if known.
	SecretExpires string `json:"secret_expires,omitempty"`
}

// Authentication methods.
const (
	AuthSecret      = "secret"
	AuthCertificate = "certificate"
)

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)
)

// Validate checks the settings without contacting anything. Its errors
// are *connector.Error of KindInvalid that name the field at fault.
func (c Config) Validate() error {
	switch {
	case c.Tenant == "":
		return invalid("tenant is required: the directory (tenant) ID or the primary domain, such as contoso.onmicrosoft.com")
	case slices.Contains([]string{"common", "organizations", "consumers"}, strings.ToLower(c.Tenant)):
		return invalid("tenant %q cannot be used by a background service: give the tenant's own ID or primary domain", c.Tenant)
	case !guidRE.MatchString(c.Tenant) && !domainRE.MatchString(c.Tenant):
		return invalid("tenant %q is neither a tenant ID (a GUID) nor a domain name such as contoso.onmicrosoft.com", c.Tenant)
	case c.ClientID == "":
		return invalid("client_id is required: the Application (client) ID from the app registration's Overview page")
	case !guidRE.MatchString(c.ClientID):
		return invalid("client_id %q is not an application (client) ID, which is a GUID such as 6731de76-14a6-49ae-97bc-6eba6914391e", c.ClientID)
	}
	if _, err := c.cloud(); err != nil {
		return err
	}
	if c.CAPEM != "" {
		if b, _ := pem.Decode([]byte(c.CAPEM)); b == nil || b.Type != "CERTIFICATE" {
			return invalid("ca_pem holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")")
		}
	}
	switch c.AuthMethod {
	case "", AuthSecret, AuthCertificate:
	default:
		return invalid("auth_method %q is not %q or %q", c.AuthMethod, AuthSecret, AuthCertificate)
	}
	if c.SecretExpires != "" {
		if _, err := time.Parse(time.DateOnly, c.SecretExpires); err != nil {
			return invalid("secret_expires %q is not a date in the form YYYY-MM-DD", c.SecretExpires)
		}
	}
	return nil
}

// cloud resolves the cloud setting to endpoints.
func (c Config) cloud() (graph.Cloud, error) {
	if strings.EqualFold(c.Cloud, "custom") {
		if c.AuthorityURL == "" || c.GraphURL == "" {
			return graph.Cloud{}, invalid("cloud \"custom\" needs both authority_url and graph_url")
		}
		cl, err := graph.CustomCloud(c.AuthorityURL, c.GraphURL)
		if err != nil {
			field := "authority_url"
			if strings.HasPrefix(err.Error(), "graph") {
				field = "graph_url"
			}
			return graph.Cloud{}, invalid("%s: %v", field, strings.TrimPrefix(strings.TrimPrefix(err.Error(), "authority URL: "), "graph URL: "))
		}
		return cl, nil
	}
	cl, ok := graph.LookupCloud(c.Cloud)
	if !ok {
		return graph.Cloud{}, invalid("cloud %q is not one of global, usgov, usgovdod, china, custom", c.Cloud)
	}
	if c.AuthorityURL != "" || c.GraphURL != "" {
		return graph.Cloud{}, invalid("authority_url and graph_url are only used with cloud \"custom\"; cloud %q has fixed endpoints", cl.Name)
	}
	return cl, nil
}

func (c Config) authMethod() string {
	if c.AuthMethod == "" {
		return AuthSecret
	}
	return c.AuthMethod
}

func invalid(format string, args ...any) *connector.Error {
	return &connector.Error{Kind: connector.KindInvalid, Message: fmt.Sprintf(format, args...)}
}
