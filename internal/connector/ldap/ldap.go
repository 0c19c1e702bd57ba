// Package ldap reads users, groups and memberships from Active Directory
// and from other LDAP directories.
//
// It speaks LDAP v3 through github.com/go-ldap/ldap/v3, over LDAPS or
// StartTLS only, with certificate verification on unless a loudly named
// setting turns it off. It binds with a service account's simple bind; the
// bind sits behind a small interface so that Kerberos (GSSAPI) can join it.
//
// Against Active Directory it follows AD's own semantics, as Azure AD
// Connect does: objectGUID (or ms-DS-ConsistencyGuid) is the anchor that
// survives renames and moves; userAccountControl and accountExpires say
// whether an account is enabled; large groups are read with range
// retrieval; and incremental reads use the DirSync control, whose cookie is
// the cursor. Other LDAP servers get the generic flavor: configurable
// attributes, and modifyTimestamp with periodic full reconciliation.
package ldap

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
)

// Flavors of directory.
const (
	FlavorAD      = "ad"
	FlavorGeneric = "generic"
)

// Config is an LDAP source's settings. The bind password is not part of it:
// it is given to Open separately and kept sealed by the store.
type Config struct {
	// URLs are tried in order; the next is used when one cannot be reached.
	URLs   []string `json:"urls"`
	BaseDN string   `json:"base_dn"`
	// BindDN is the service account: a DN, or user@domain for AD.
	BindDN string `json:"bind_dn"`
	// StartTLS upgrades ldap:// URLs. Plain LDAP without it is refused: the
	// bind would send the password in clear.
	StartTLS bool `json:"start_tls,omitempty"`
	// CAPEM are extra CA certificates to trust, PEM encoded.
	CAPEM string `json:"ca_pem,omitempty"`
	// InsecureSkipVerify turns certificate verification off, for labs only.
	// Every connection logs a warning while it is set.
	InsecureSkipVerify bool `json:"insecure_skip_tls_verify,omitempty"`
	// IncludeOUs limits users and groups to these subtrees of BaseDN (all
	// of BaseDN when empty); ExcludeOUs leaves subtrees out. An included OU
	// that does not exist stops the read: a renamed OU must never look like
	// everyone in it left.
	IncludeOUs []string `json:"include_ous,omitempty"`
	ExcludeOUs []string `json:"exclude_ous,omitempty"`
	// UserFilter and GroupFilter are RFC 4515 filters ANDed with the
	// flavor's object class filter, e.g. (department=Sales) or, on AD,
	// (memberOf:1.2.840.113556.1.4.1941:=CN=Sync,OU=Groups,DC=corp,DC=example,DC=com)
	// for the members of a group at any depth.
	UserFilter  string `json:"user_filter,omitempty"`
	GroupFilter string `json:"group_filter,omitempty"`
	// UserClass and GroupClass override the object classes that mark users
	// and groups (AD: user without computer, and group; generic:
	// inetOrgPerson and groupOfNames).
	UserClass  string `json:"user_class,omitempty"`
	GroupClass string `json:"group_class,omitempty"`
	// Attributes override which LDAP attribute feeds which dirsync field;
	// the keys are those of DefaultAttributes.
	Attributes map[string]string `json:"attributes,omitempty"`
	// UPNSuffixMap rewrites userPrincipalName suffixes, e.g.
	// {"corp.local": "corp.example.com"}, as admins do before syncing a
	// domain with a non-routable suffix to the cloud.
	UPNSuffixMap map[string]string `json:"upn_suffix_map,omitempty"`
	// Flavor is "ad" or "generic"; empty detects it from the root DSE.
	Flavor string `json:"flavor,omitempty"`
}

// Attribute keys of Config.Attributes: the user fields they feed, under
// the fields' own names, and a few more.
const (
	AttrAnchor         = "anchor"
	AttrUsername       = string(directory.UserUsername)
	AttrAccountName    = string(directory.UserAccountName)
	AttrEmail          = string(directory.UserEmail)
	AttrProxyAddresses = string(directory.UserProxyAddresses)
	AttrDisplayName    = string(directory.UserDisplayName)
	AttrGivenName      = string(directory.UserGivenName)
	AttrSurname        = string(directory.UserSurname)
	AttrJobTitle       = string(directory.UserJobTitle)
	AttrDepartment     = string(directory.UserDepartment)
	AttrMobilePhone    = string(directory.UserMobilePhone)
	AttrBusinessPhones = string(directory.UserBusinessPhones)
	AttrGroupName      = "group_name"
	AttrGroupDesc      = "group_description"
	AttrGroupMail      = "group_mail"
	AttrMember         = "member"
)

// DefaultAttributes returns the attribute mapping of a flavor.
func DefaultAttributes(flavor string) map[string]string {
	m := map[string]string{
		AttrUsername:       "userPrincipalName",
		AttrAccountName:    "sAMAccountName",
		AttrEmail:          "mail",
		AttrProxyAddresses: "proxyAddresses",
		AttrDisplayName:    "displayName",
		AttrGivenName:      "givenName",
		AttrSurname:        "sn",
		AttrJobTitle:       "title",
		AttrDepartment:     "department",
		AttrMobilePhone:    "mobile",
		AttrBusinessPhones: "telephoneNumber",
		AttrGroupName:      "cn",
		AttrGroupDesc:      "description",
		AttrGroupMail:      "mail",
		AttrMember:         "member",
		AttrAnchor:         "objectGUID",
	}
	if flavor == FlavorGeneric {
		m[AttrAnchor] = "entryUUID"
		m[AttrUsername] = "uid"
		m[AttrAccountName] = "uid"
		m[AttrProxyAddresses] = ""
	}
	return m
}

// attrNameRE is what an attribute description may look like (RFC 4512
// descr or OID, with options).
var attrNameRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

// Validate checks the settings without contacting the directory.
func (c Config) Validate() error {
	var p problems
	c.validateServers(&p)
	c.validateScope(&p)
	c.validateMapping(&p)
	if len(p) == 0 {
		return nil
	}
	return &connector.Error{Kind: connector.KindInvalid, Message: "ldap: invalid settings", Err: errors.Join(p...)}
}

// problems collects what is wrong with settings, to report all at once.
type problems []error

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// validateServers checks the URLs and that no password goes in clear.
func (c Config) validateServers(p *problems) {
	if len(c.URLs) == 0 {
		p.add("at least one server URL is required (ldaps://HOST)")
	}
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Host == "":
			p.add("server URL %q: want ldaps://HOST[:636] or ldap://HOST[:389]", raw)
		case u.Scheme == "ldaps":
			if c.StartTLS {
				p.add("server URL %q: StartTLS applies to ldap:// URLs; ldaps:// is TLS already", raw)
			}
		case u.Scheme == "ldap":
			if !c.StartTLS {
				p.add("server URL %q: plain LDAP would send the bind password in clear; use ldaps:// or turn on StartTLS", raw)
			}
		default:
			p.add("server URL %q: scheme must be ldaps or ldap", raw)
		}
	}
	if c.CAPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CAPEM)) {
		p.add("CA certificates: no PEM certificate found")
	}
}

// validateScope checks the DNs (the OUs under the base DN), the filters
// and the object classes.
func (c Config) validateScope(p *problems) {
	base, err := goldap.ParseDN(c.BaseDN)
	if c.BaseDN == "" || err != nil {
		p.add("base DN %q is not a distinguished name (e.g. DC=corp,DC=example,DC=com)", c.BaseDN)
		base = nil
	}
	if strings.TrimSpace(c.BindDN) == "" {
		p.add("bind DN is required (the service account's DN, or user@domain on AD)")
	}
	for _, list := range []struct {
		name string
		dns  []string
	}{{"included OU", c.IncludeOUs}, {"excluded OU", c.ExcludeOUs}} {
		for _, ou := range list.dns {
			d, err := goldap.ParseDN(ou)
			switch {
			case err != nil || ou == "":
				p.add("%s %q is not a distinguished name", list.name, ou)
			case base != nil && !base.EqualFold(d) && !base.AncestorOfFold(d):
				p.add("%s %q is not under the base DN %q", list.name, ou, c.BaseDN)
			}
		}
	}
	for name, f := range map[string]string{"user filter": c.UserFilter, "group filter": c.GroupFilter} {
		if f == "" {
			continue
		}
		if _, err := goldap.CompileFilter(wrapFilter(f)); err != nil {
			p.add("%s %q is not an RFC 4515 LDAP filter: %v", name, f, err)
		}
	}
	for name, cls := range map[string]string{"user class": c.UserClass, "group class": c.GroupClass} {
		if cls != "" && !attrNameRE.MatchString(cls) {
			p.add("%s %q is not an object class name", name, cls)
		}
	}
}

// validateMapping checks the attribute mapping, the UPN suffix map and
// the flavor.
func (c Config) validateMapping(p *problems) {
	known := DefaultAttributes(FlavorAD)
	for k, v := range c.Attributes {
		if _, ok := known[k]; !ok {
			p.add("attribute mapping %q: unknown field (known: %s)", k, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		} else if v != "" && !attrNameRE.MatchString(v) {
			p.add("attribute mapping %s=%q: not an LDAP attribute name", k, v)
		}
	}
	for from, to := range c.UPNSuffixMap {
		if !validSuffix(from) || !validSuffix(to) {
			p.add("UPN suffix mapping %q=%q: want domain names such as corp.local=corp.example.com", from, to)
		}
	}
	switch c.Flavor {
	case "", FlavorAD, FlavorGeneric:
	default:
		p.add("flavor %q: want %q, %q or empty to detect it", c.Flavor, FlavorAD, FlavorGeneric)
	}
}

func validSuffix(s string) bool {
	s = strings.TrimPrefix(s, "@")
	return s != "" && !strings.ContainsAny(s, "@ \t/\\,=")
}

// wrapFilter accepts a filter written without its outer parentheses.
func wrapFilter(f string) string {
	f = strings.TrimSpace(f)
	if !strings.HasPrefix(f, "(") {
		f = "(" + f + ")"
	}
	return f
}

// scopeHash identifies the settings that decide which objects are read, so
// that a cursor taken under other settings is refused (a widened scope must
// be read in full, not as "nothing changed").
func (c Config) scopeHash() string {
	b, _ := json.Marshal([]any{
		strings.ToLower(c.BaseDN), lowerAll(c.IncludeOUs), lowerAll(c.ExcludeOUs),
		c.UserFilter, c.GroupFilter, c.UserClass, c.GroupClass, c.Attributes, c.UPNSuffixMap, c.Flavor,
	})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func lowerAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	slices.Sort(out)
	return out
}

// Options are the connector's collaborators.
type Options struct {
	Logger *slog.Logger
	// Clock decides whether accountExpires has passed and dates the
	// incremental reads' whenChanged filter; the system clock when nil.
	Clock clock.Clock
	// PageSize is the RFC 2696 page size; AD's MaxPageSize is 1000.
	PageSize int
	// Timeout bounds each connection attempt and each request (default 30 s).
	Timeout time.Duration
}

// source is an open LDAP source.
type source struct {
	cfg      Config
	password []byte
	log      *slog.Logger
	clk      clock.Clock
	pageSize int
	timeout  time.Duration
	binder   binder

	requests atomic.Int64
}

var (
	_ connector.Connector        = (*source)(nil)
	_ connector.Incremental      = (*source)(nil)
	_ connector.UserLookup       = (*source)(nil)
	_ connector.GroupParents     = (*source)(nil)
	_ connector.DeletionReporter = (*source)(nil)
	_ connector.Counter          = (*source)(nil)
)

// Open returns a connector for cfg. It does not contact the directory;
// Check does.
func Open(cfg Config, password []byte, opts Options) (connector.Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &source{
		cfg:      cfg,
		password: slices.Clone(password),
		log:      opts.Logger,
		clk:      clock.Or(opts.Clock),
		pageSize: opts.PageSize,
		timeout:  opts.Timeout,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pageSize <= 0 {
		s.pageSize = 1000
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	s.binder = simpleBind{dn: cfg.BindDN, password: s.password}
	if cfg.InsecureSkipVerify {
		s.log.Warn("ldap: TLS certificate verification is OFF for this source (insecure_skip_tls_verify): anyone on the network path can read the bind password", "urls", cfg.URLs)
	}
	return s, nil
}

// Stats reports the requests made so far.
func (s *source) Stats() connector.Stats {
	return connector.Stats{Requests: int(s.requests.Load())}
}
