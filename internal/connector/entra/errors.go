package entra

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/graph"
)

// Permissions a sync needs, named in the messages of a 403.
const (
	permUsers   = "User.Read.All"
	permMembers = "GroupMember.Read.All"
)

// classify turns what the Graph client returned into a *connector.Error
// whose message tells an administrator what to do. doing says what was
// being read ("read users"); perm is the application permission it needs.
// A cancelled context is returned as it is: nobody needs to fix anything.
func (c *conn) classify(err error, doing, perm string) error {
	if err == nil {
		return nil
	}
	var ce *connector.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := c.explain(err, perm)
	e.Err = err
	if doing != "" {
		e.Message = doing + ": " + e.Message
	}
	return e
}

func (c *conn) explain(err error, perm string) *connector.Error {
	budget := errors.Is(err, graph.ErrRetryBudget)

	var ae *graph.AuthError
	if errors.As(err, &ae) {
		return c.explainAuth(ae, budget)
	}
	var ge *graph.Error
	if errors.As(err, &ge) {
		return c.explainGraph(ge, perm)
	}
	if ne := explainNet(err, budget); ne != nil {
		return ne
	}
	return &connector.Error{Kind: connector.KindProtocol, Message: "unexpected answer from Microsoft Graph"}
}

func (c *conn) explainAuth(ae *graph.AuthError, budget bool) *connector.Error {
	code := ae.AADSTS()
	e := func(kind connector.ErrorKind, format string, args ...any) *connector.Error {
		return &connector.Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case ae.Has(90002) || ae.Has(900023) || ae.Has(90072):
		return e(connector.KindNotFound, "tenant %q was not found in the %s cloud: check the tenant (its directory ID or primary domain) and the cloud setting", c.cfg.Tenant, c.cloud.Name)
	case ae.Has(700016):
		return e(connector.KindAuth, "application %s was not found in tenant %q: check the client ID (the Application (client) ID on the app registration's Overview page) and that the app is registered in this tenant", c.cfg.ClientID, c.cfg.Tenant)
	case ae.Has(7000215):
		return e(connector.KindAuth, "the client secret is wrong: enter the secret's Value, shown once when the secret is created under Certificates & secrets, not its Secret ID")
	case ae.Has(7000222):
		when := ""
		if c.cfg.SecretExpires != "" {
			when = " (on " + c.cfg.SecretExpires + ")"
		}
		return e(connector.KindAuth, "the client secret has expired%s: create a new secret under Certificates & secrets of the app registration and update this source with its Value", when)
	case ae.Has(700027) || ae.Has(700024) || ae.Has(50012):
		return e(connector.KindAuth, "the client certificate was refused: upload its public certificate to the app registration under Certificates & secrets")
	case ae.Has(7000112) || ae.Has(50057):
		return e(connector.KindAuth, "application %s is disabled in tenant %q: enable its service principal (Enterprise applications)", c.cfg.ClientID, c.cfg.Tenant)
	case ae.Status == http.StatusTooManyRequests:
		return e(connector.KindThrottled, "the Microsoft login service is throttling token requests")
	case ae.Status >= 500:
		return e(connector.KindUnavailable, "the Microsoft login service answered HTTP %d", ae.Status)
	case ae.Status != 0:
		d := ae.Description
		if d == "" {
			d = fmt.Sprintf("HTTP %d", ae.Status)
		}
		return e(connector.KindAuth, "sign-in refused: %s", d)
	case ae.Cause != nil:
		if ne := explainNet(ae.Cause, budget); ne != nil {
			ne.Message = "signing in at " + c.cloud.AuthorityURL + ": " + ne.Message
			return ne
		}
	}
	return e(connector.KindAuth, "sign-in failed: %v", ae.Err)
}

func (c *conn) explainGraph(ge *graph.Error, perm string) *connector.Error {
	e := func(kind connector.ErrorKind, format string, args ...any) *connector.Error {
		return &connector.Error{Kind: kind, Code: ge.Code, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case ge.Status == http.StatusForbidden:
		if perm == "" {
			perm = permUsers + " and " + permMembers
		}
		return e(connector.KindPermission, "the application is not allowed to read this (HTTP 403 %s): add the Microsoft Graph application permission %s (Application, not Delegated) under API permissions, then click \"Grant admin consent\"", ge.Code, perm)
	case ge.Status == http.StatusUnauthorized:
		return e(connector.KindAuth, "Microsoft Graph refused the access token, even a fresh one (HTTP 401 %s): check that the app registration belongs to tenant %q and to this cloud", ge.Code, c.cfg.Tenant)
	case graph.IsDeltaExpired(ge):
		return e(connector.KindCursor, "the delta token expired or was refused (HTTP %d %s): a full sync is needed", ge.Status, ge.Code)
	case ge.Status == http.StatusTooManyRequests:
		return e(connector.KindThrottled, "Microsoft Graph was still throttling this application when the retry time ran out (%s)", ge.Message)
	case ge.Status >= 500:
		return e(connector.KindUnavailable, "Microsoft Graph answered HTTP %d (%s) until the retry time ran out", ge.Status, ge.Message)
	case ge.Status == http.StatusNotFound:
		return e(connector.KindNotFound, "not found (%s)", ge.Message)
	}
	return e(connector.KindProtocol, "Microsoft Graph answered HTTP %d %s: %s", ge.Status, ge.Code, ge.Message)
}

// explainNet explains a transport error, or returns nil if err is not one.
func explainNet(err error, budget bool) *connector.Error {
	host := ""
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
	}
	if host == "" {
		host = "the server"
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		dnsErr   *net.DNSError
		opErr    *net.OpError
	)
	retried := ""
	if budget {
		retried = " (retried until the retry time ran out)"
	}
	switch {
	case errors.As(err, &unknown):
		return &connector.Error{Kind: connector.KindTLS, Message: fmt.Sprintf("the TLS certificate of %s is not trusted (issued by %q): if a proxy inspects TLS, or for an emulated tenant, give its CA certificate with --ca-file", host, issuer(unknown.Cert))}
	case errors.As(err, &hostname):
		return &connector.Error{Kind: connector.KindTLS, Message: fmt.Sprintf("the TLS certificate of %s is for another name (%v): check the URL, or the proxy in between", host, hostname.Error())}
	case errors.As(err, &invalid):
		return &connector.Error{Kind: connector.KindTLS, Message: fmt.Sprintf("the TLS certificate of %s is not valid: %v", host, invalid.Error())}
	case errors.As(err, &dnsErr):
		return &connector.Error{Kind: connector.KindNetwork, Message: fmt.Sprintf("cannot resolve %s (DNS: %v): check the cloud or URL settings, and this machine's DNS and proxy", dnsErr.Name, dnsErr.Err)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &connector.Error{Kind: connector.KindNetwork, Message: fmt.Sprintf("%s refused the connection%s: check the URL, and any firewall or proxy", host, retried)}
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return &connector.Error{Kind: connector.KindNetwork, Message: fmt.Sprintf("the connection to %s was reset%s", host, retried)}
	case isTimeout(err):
		return &connector.Error{Kind: connector.KindNetwork, Message: fmt.Sprintf("%s did not answer in time%s", host, retried)}
	case errors.As(err, &opErr) || ue != nil:
		return &connector.Error{Kind: connector.KindNetwork, Message: fmt.Sprintf("cannot reach %s%s: %v", host, retried, innermost(err))}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func issuer(c *x509.Certificate) string {
	if c == nil {
		return "unknown"
	}
	return c.Issuer.String()
}

// innermost is the last error of a chain, which says the most in the fewest words.
func innermost(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// expiryNote describes the secret's expiry date as of now.
func expiryNote(date string, now time.Time) (ok bool, msg string) {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return false, "secret_expires is not a date"
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	days := int(d.Sub(today).Hours() / 24)
	switch {
	case days < 0:
		return false, fmt.Sprintf("the client secret expired on %s, %d days ago: create a new one", date, -days)
	case days == 0:
		return true, fmt.Sprintf("the client secret expires today (%s): create a new one now", date)
	case days <= 30:
		return true, fmt.Sprintf("the client secret expires on %s, in %d days: create a new one soon", date, days)
	}
	return true, fmt.Sprintf("the client secret expires on %s, in %d days", date, days)
}

// Explain turns an error of a Graph call made with a client from NewClient
// into a *connector.Error with a message for the administrator, as the
// connector's own calls are explained: doing says what was being done,
// perm the permission it needs.
func Explain(cfg Config, err error, doing, perm string) error {
	c := &conn{cfg: cfg, clk: clock.System}
	if cl, cerr := cfg.cloud(); cerr == nil {
		c.cloud = cl
	}
	return c.classify(err, doing, perm)
}
