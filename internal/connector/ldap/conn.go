package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/connector"
)

// binder authenticates a connection. Simple bind is the one there is; a
// GSSAPI binder (go-ldap's gssapi package) can implement it later without
// touching the rest.
type binder interface {
	bind(conn *goldap.Conn) error
}

type simpleBind struct {
	dn       string
	password []byte
}

func (b simpleBind) bind(conn *goldap.Conn) error {
	_, err := conn.SimpleBind(&goldap.SimpleBindRequest{Username: b.dn, Password: string(b.password)})
	return err
}

// OIDs of the root DSE and controls the connector uses.
const (
	oidCapActiveDirectory = "1.2.840.113556.1.4.800"
	oidInChain            = "1.2.840.113556.1.4.1941"
)

// rootDSE is what a server says about itself.
type rootDSE struct {
	defaultNC      string
	namingContexts []string
	capabilities   []string
	controls       []string
	highestUSN     int64
	dsServiceName  string
	currentTime    string
	vendor         string
}

func (r rootDSE) supportsControl(oid string) bool { return slices.Contains(r.controls, oid) }

// session is one bound connection to one server.
type session struct {
	s      *source
	conn   *goldap.Conn
	url    string
	flavor string
	root   rootDSE
	stop   func() bool
	ctx    context.Context
}

// connect dials the configured servers in order and binds to the first that
// answers. A server that cannot be reached, or whose certificate fails,
// moves on to the next; a refused bind does not, since every server of a
// directory would refuse it alike.
func (s *source) connect(ctx context.Context) (*session, error) {
	tlsConfig, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	var failures []*connector.Error
	for i, raw := range s.cfg.URLs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ss, err := s.dialOne(ctx, raw, tlsConfig)
		if err == nil {
			return ss, nil
		}
		ce := asConnectorError(err)
		if ce == nil || (ce.Kind != connector.KindNetwork && ce.Kind != connector.KindTLS) {
			return nil, err
		}
		failures = append(failures, ce)
		if i < len(s.cfg.URLs)-1 {
			s.log.Warn("ldap: server failed, trying the next", "url", raw, "error", err)
		}
	}
	if len(failures) == 1 {
		return nil, failures[0]
	}
	// Report a TLS problem first: it is the one the administrator can fix.
	for _, f := range failures {
		if f.Kind == connector.KindTLS {
			return nil, f
		}
	}
	msgs := make([]string, len(failures))
	for i, f := range failures {
		msgs[i] = f.Error()
	}
	return nil, &connector.Error{Kind: connector.KindNetwork, Message: "ldap: no server could be reached: " + strings.Join(msgs, "; ")}
}

func (s *source) dialOne(ctx context.Context, raw string, tlsConfig *tls.Config) (*session, error) {
	host := hostOf(raw)
	tc := tlsConfig.Clone()
	tc.ServerName = host
	dialer := &net.Dialer{Timeout: s.timeout}
	s.requests.Add(1)
	conn, err := goldap.DialURL(raw, goldap.DialWithDialer(dialer), goldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, classifyConnect(raw, err)
	}
	conn.SetTimeout(s.timeout)
	ss := &session{s: s, conn: conn, url: raw, ctx: ctx}
	// go-ldap's synchronous calls know no context: closing the connection
	// is what interrupts one when the context ends.
	ss.stop = context.AfterFunc(ctx, func() { conn.Close() })
	if s.cfg.StartTLS {
		s.requests.Add(1)
		if err := conn.StartTLS(tc); err != nil {
			ss.close()
			return nil, classifyConnect(raw, err)
		}
	}
	s.requests.Add(1)
	if err := s.binder.bind(conn); err != nil {
		ss.close()
		return nil, ss.wrap(classifyBind(s.cfg.BindDN, raw, err))
	}
	if err := ss.readRootDSE(); err != nil {
		ss.close()
		return nil, err
	}
	ss.flavor = s.cfg.Flavor
	if ss.flavor == "" {
		ss.flavor = FlavorGeneric
		if slices.Contains(ss.root.capabilities, oidCapActiveDirectory) {
			ss.flavor = FlavorAD
		}
	}
	return ss, nil
}

func (ss *session) close() {
	if ss.stop != nil {
		ss.stop()
	}
	ss.conn.Close()
}

// wrap turns an error seen after the context ended into the context's error,
// since the failure is then ours (the connection was closed on purpose).
func (ss *session) wrap(err error) error {
	if err != nil && ss.ctx.Err() != nil {
		return fmt.Errorf("ldap: %w", ss.ctx.Err())
	}
	return err
}

func hostOf(raw string) string {
	rest := raw[strings.Index(raw, "://")+3:]
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if h, _, err := net.SplitHostPort(rest); err == nil {
		return h
	}
	return strings.Trim(rest, "[]")
}

func (s *source) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.InsecureSkipVerify {
		s.log.Warn("ldap: connecting WITHOUT verifying the server's certificate (insecure_skip_tls_verify)")
		tc.InsecureSkipVerify = true
		return tc, nil
	}
	if s.cfg.CAPEM != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(s.cfg.CAPEM)) {
			return nil, connector.Errorf(connector.KindInvalid, "ldap: the CA certificates hold no PEM certificate")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func (ss *session) readRootDSE() error {
	req := goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "namingContexts", "supportedCapabilities",
			"supportedControl", "highestCommittedUSN", "dsServiceName", "currentTime", "vendorName"}, nil)
	ss.s.requests.Add(1)
	res, err := ss.conn.Search(req)
	if err != nil {
		return ss.wrap(classifySearch("read the root DSE", "", err))
	}
	if len(res.Entries) != 1 {
		return connector.Errorf(connector.KindProtocol, "ldap: %s returned no root DSE", ss.url)
	}
	e := res.Entries[0]
	ss.root = rootDSE{
		defaultNC:      e.GetAttributeValue("defaultNamingContext"),
		namingContexts: e.GetAttributeValues("namingContexts"),
		capabilities:   e.GetAttributeValues("supportedCapabilities"),
		controls:       e.GetAttributeValues("supportedControl"),
		dsServiceName:  e.GetAttributeValue("dsServiceName"),
		currentTime:    e.GetAttributeValue("currentTime"),
		vendor:         e.GetAttributeValue("vendorName"),
	}
	ss.root.highestUSN, _ = strconv.ParseInt(e.GetAttributeValue("highestCommittedUSN"), 10, 64)
	return nil
}

// search runs one unpaged search.
func (ss *session) search(req *goldap.SearchRequest) (*goldap.SearchResult, error) {
	ss.s.requests.Add(1)
	res, err := ss.conn.Search(req)
	return res, ss.wrap(err)
}

// pagedSearch runs a search with the RFC 2696 paged results control and
// hands each entry to fn as its page arrives, so that no more than a page
// is held at once, and a directory beyond the server's size limit (AD's
// MaxPageSize of 1000) still comes whole.
func (ss *session) pagedSearch(req *goldap.SearchRequest, fn func(*goldap.Entry) error) error {
	return ss.pagedSearchSize(req, ss.s.pageSize, fn)
}

func (ss *session) pagedSearchSize(req *goldap.SearchRequest, size int, fn func(*goldap.Entry) error) error {
	paging := goldap.NewControlPaging(uint32(size))
	req.Controls = append(req.Controls, paging)
	for {
		res, err := ss.search(req)
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				ss.abandonPaging(req, paging)
				return err
			}
		}
		ctl, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if !ok || len(ctl.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(ctl.Cookie)
	}
}

// abandonPaging tells the server to drop a paged search left half read
// (RFC 2696: a page size of zero with the cookie).
func (ss *session) abandonPaging(req *goldap.SearchRequest, paging *goldap.ControlPaging) {
	if ss.ctx.Err() != nil {
		return
	}
	paging.PagingSize = 0
	ss.search(req)
}

// asConnectorError returns the *connector.Error in err's chain, or nil.
func asConnectorError(err error) *connector.Error {
	var ce *connector.Error
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// classifyConnect explains a failure to reach a server or to agree on TLS.
func classifyConnect(url string, err error) error {
	if msg := explainTLS(url, err); msg != "" {
		return &connector.Error{Kind: connector.KindTLS, Message: "ldap: " + msg, Err: err}
	}
	var le *goldap.Error
	if errors.As(err, &le) && le.ResultCode == goldap.LDAPResultProtocolError {
		return &connector.Error{Kind: connector.KindProtocol, Code: "LDAP 2",
			Message: fmt.Sprintf("ldap: %s refused StartTLS; use ldaps:// instead", url), Err: err}
	}
	var ne net.Error
	msg := fmt.Sprintf("ldap: cannot reach %s", url)
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		msg += fmt.Sprintf(" (timed out: is a firewall dropping port %s?)", portOf(url))
	case strings.Contains(err.Error(), "connection refused"):
		msg += " (connection refused: is the directory running and listening on port " + portOf(url) + "?)"
	case strings.Contains(err.Error(), "no such host"):
		msg += " (the host name does not resolve)"
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "EOF"):
		msg += " (the TLS handshake failed: does the server speak LDAPS on this port?)"
	}
	return &connector.Error{Kind: connector.KindNetwork, Message: msg, Err: err}
}

func portOf(url string) string {
	rest := url[strings.Index(url, "://")+3:]
	if _, p, err := net.SplitHostPort(strings.TrimRight(rest, "/")); err == nil {
		return p
	}
	if strings.HasPrefix(url, "ldaps") {
		return "636"
	}
	return "389"
}

// explainTLS says what is wrong with the server's certificate, or "" when
// err is not a certificate problem.
func explainTLS(url string, err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown):
		issuer := ""
		if unknown.Cert != nil {
			issuer = unknown.Cert.Issuer.String()
		}
		return fmt.Sprintf("the certificate of %s is not trusted: it is signed by %q, which is not a trusted CA; "+
			"give that CA's certificate in a PEM file (--ca-file; on AD, the enterprise root CA)", url, issuer)
	case errors.As(err, &hostname):
		c := hostname.Certificate
		if c != nil && len(c.DNSNames) == 0 && len(c.IPAddresses) == 0 {
			return fmt.Sprintf("the certificate of %s names its host only in the legacy common name %q, which TLS clients no longer accept; "+
				"reissue it with the host name as a subjectAltName", url, c.Subject.CommonName)
		}
		names := []string{}
		if c != nil {
			names = append(names, c.DNSNames...)
			for _, ip := range c.IPAddresses {
				names = append(names, ip.String())
			}
		}
		return fmt.Sprintf("the certificate of %s is for %s, not for %q: use a server URL with one of those names", url, strings.Join(names, ", "), hostname.Host)
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired && invalid.Cert != nil {
			return fmt.Sprintf("the certificate of %s is outside its validity (not after %s): renew it", url, invalid.Cert.NotAfter.Format(time.DateOnly))
		}
		return fmt.Sprintf("the certificate of %s is invalid: %v", url, invalid)
	case errors.As(err, &verify):
		return fmt.Sprintf("the certificate of %s could not be verified: %v", url, verify.Err)
	}
	return ""
}

// AD explains a refused bind in the diagnostic message: "... AcceptSecurityContext
// error, data 52e, v4563". The data code is the Windows error.
var adDataCode = regexp.MustCompile(`(?i)\bdata ([0-9a-f]{3,8})\b`)

var adBindReasons = map[string]string{
	"525": "the bind account does not exist",
	"52e": "the bind DN or the password is wrong",
	"530": "the bind account may not log on at this time (logon hours)",
	"531": "the bind account may not log on from this computer (logon workstations)",
	"532": "the bind account's password has expired: set a new one",
	"533": "the bind account is disabled",
	"534": "the bind account has not been granted this logon type",
	"568": "the bind account belongs to too many groups for a logon token",
	"701": "the bind account has expired (accountExpires)",
	"773": "the bind account must change its password before it can log on",
	"775": "the bind account is locked out after too many failed logons",
}

// classifyBind explains a refused bind.
func classifyBind(bindDN, url string, err error) error {
	if msg := explainTLS(url, err); msg != "" {
		return &connector.Error{Kind: connector.KindTLS, Message: "ldap: " + msg, Err: err}
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		return &connector.Error{Kind: connector.KindNetwork, Message: "ldap: bind to " + url + " failed", Err: err}
	}
	diag := ""
	if le.Err != nil {
		diag = le.Err.Error()
	}
	code := "LDAP " + strconv.Itoa(int(le.ResultCode))
	switch le.ResultCode {
	case goldap.ErrorEmptyPassword:
		return &connector.Error{Kind: connector.KindAuth, Message: "ldap: the bind password is empty"}
	case goldap.LDAPResultInvalidCredentials:
		reason := "the bind DN or the password is wrong"
		if m := adDataCode.FindStringSubmatch(diag); m != nil {
			data := strings.ToLower(m[1])
			code += " data " + data
			if r, ok := adBindReasons[data]; ok {
				reason = r
			} else {
				reason = "the directory refused the credentials (Windows error 0x" + data + ")"
			}
		}
		return &connector.Error{Kind: connector.KindAuth, Code: code,
			Message: fmt.Sprintf("ldap: bind as %q refused: %s", bindDN, reason)}
	case goldap.LDAPResultInappropriateAuthentication:
		return &connector.Error{Kind: connector.KindAuth, Code: code,
			Message: fmt.Sprintf("ldap: bind as %q refused: the directory does not accept a simple bind for this account", bindDN), Err: err}
	case goldap.LDAPResultStrongAuthRequired, goldap.LDAPResultConfidentialityRequired:
		return &connector.Error{Kind: connector.KindInvalid, Code: code,
			Message: "ldap: the directory requires an encrypted connection for a simple bind: use ldaps:// or StartTLS", Err: err}
	case goldap.LDAPResultInvalidDNSyntax:
		return &connector.Error{Kind: connector.KindAuth, Code: code,
			Message: fmt.Sprintf("ldap: bind DN %q is not a valid DN (on AD, user@domain works too)", bindDN), Err: err}
	}
	if le.ResultCode >= goldap.ErrorNetwork || le.ResultCode == goldap.LDAPResultServerDown {
		return &connector.Error{Kind: connector.KindNetwork, Message: "ldap: connection to " + url + " lost during bind", Err: err}
	}
	return &connector.Error{Kind: connector.KindAuth, Code: code,
		Message: fmt.Sprintf("ldap: bind as %q refused", bindDN), Err: err}
}

// classifySearch explains a failed search of base.
func classifySearch(what, base string, err error) error {
	var le *goldap.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("ldap: %s: %w", what, err)
	}
	code := "LDAP " + strconv.Itoa(int(le.ResultCode))
	switch le.ResultCode {
	case goldap.LDAPResultNoSuchObject:
		return &connector.Error{Kind: connector.KindNotFound, Code: code,
			Message: fmt.Sprintf("ldap: %s: %q does not exist", what, base), Err: err}
	case goldap.LDAPResultInsufficientAccessRights:
		return &connector.Error{Kind: connector.KindPermission, Code: code,
			Message: fmt.Sprintf("ldap: %s: the bind account may not read %q", what, base), Err: err}
	case goldap.LDAPResultOperationsError:
		if strings.Contains(le.Err.Error(), "successful bind") {
			return &connector.Error{Kind: connector.KindAuth, Code: code, Message: "ldap: " + what + ": the directory wants a successful bind first", Err: err}
		}
	case goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultUnwillingToPerform, goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultAdminLimitExceeded:
		return &connector.Error{Kind: connector.KindUnavailable, Code: code, Message: "ldap: " + what + ": the directory is busy or unavailable", Err: err}
	case goldap.LDAPResultFilterError:
		return &connector.Error{Kind: connector.KindInvalid, Code: code, Message: "ldap: " + what + ": the filter is invalid", Err: err}
	}
	if le.ResultCode >= goldap.ErrorNetwork || le.ResultCode == goldap.LDAPResultServerDown || le.ResultCode == goldap.LDAPResultTimeout {
		return &connector.Error{Kind: connector.KindNetwork, Message: "ldap: " + what + ": the connection was lost", Err: err}
	}
	return &connector.Error{Kind: connector.KindProtocol, Code: code, Message: "ldap: " + what, Err: err}
}
