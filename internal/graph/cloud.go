package graph

import (
	"fmt"
	"net/url"
	"strings"
)

// Cloud is one Microsoft cloud: where its login authority and its Graph
// endpoint live. Tokens do not cross clouds, so the two always go together.
type Cloud struct {
	Name string
	// AuthorityURL is the login host, such as https://login.microsoftonline.com.
	AuthorityURL string
	// GraphURL is the Graph host without a version, such as https://graph.microsoft.com.
	GraphURL string
	// Custom is set for endpoints that are not one of Microsoft's clouds (a
	// proxy, an emulator). Microsoft's auth library cannot discover such an
	// authority through its instance discovery, so it must be told not to try.
	Custom bool
}

// Microsoft's national clouds, from the Graph national cloud deployments table.
var (
	CloudGlobal   = Cloud{Name: "global", AuthorityURL: "https://login.microsoftonline.com", GraphURL: "https://graph.microsoft.com"}
	CloudUSGov    = Cloud{Name: "usgov", AuthorityURL: "https://login.microsoftonline.us", GraphURL: "https://graph.microsoft.us"}
	CloudUSGovDoD = Cloud{Name: "usgovdod", AuthorityURL: "https://login.microsoftonline.us", GraphURL: "https://dod-graph.microsoft.us"}
	CloudChina    = Cloud{Name: "china", AuthorityURL: "https://login.chinacloudapi.cn", GraphURL: "https://microsoftgraph.chinacloudapi.cn"}
)

// CloudNames lists the names LookupCloud accepts besides "custom".
var CloudNames = []string{"global", "usgov", "usgovdod", "china"}

// LookupCloud returns the named national cloud; "" means global. It does
// not know "custom": build that with CustomCloud.
func LookupCloud(name string) (Cloud, bool) {
	switch strings.ToLower(name) {
	case "", "global":
		return CloudGlobal, true
	case "usgov":
		return CloudUSGov, true
	case "usgovdod":
		return CloudUSGovDoD, true
	case "china":
		return CloudChina, true
	}
	return Cloud{}, false
}

// CustomCloud returns a cloud at the given endpoints after checking that
// both are absolute https URLs (Microsoft's auth library refuses anything
// else, and a bearer token must never travel in clear text).
func CustomCloud(authorityURL, graphURL string) (Cloud, error) {
	a, err := httpsBase(authorityURL)
	if err != nil {
		return Cloud{}, fmt.Errorf("authority URL: %w", err)
	}
	g, err := httpsBase(graphURL)
	if err != nil {
		return Cloud{}, fmt.Errorf("graph URL: %w", err)
	}
	// The version belongs to each request, not to the host setting.
	g = strings.TrimSuffix(g, "/v1.0")
	return Cloud{Name: "custom", AuthorityURL: a, GraphURL: g, Custom: true}, nil
}

// Scope is the scope a client-credentials token for this cloud's Graph asks for.
func (c Cloud) Scope() string { return strings.TrimRight(c.GraphURL, "/") + "/.default" }

func httpsBase(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("%q is not an https URL", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not have a query or fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}
