package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/safehttp"
)

// ErrInvalidURL is wrapped by every refusal of ValidateURL.
var ErrInvalidURL = errors.New("invalid webhook URL")

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2048

// ValidateURL checks a webhook URL before it is stored: an absolute http or
// https URL with a host, no credentials in it, no fragment, and a target
// that allow (the deployment's allow list; empty: public targets only)
// lets dirsync reach. It resolves nothing: a public-looking name that
// resolves to a private address is refused by the dispatcher's dialer at
// every delivery, which checks the address actually dialed.
//
// Its messages are for the administrator creating the webhook and name
// what is wrong; each wraps ErrInvalidURL.
func ValidateURL(raw string, allow safehttp.AllowList) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidURL, fmt.Sprintf(format, args...))
	}
	if len(raw) > MaxURLLength {
		return bad("longer than %d characters", MaxURLLength)
	}
	if strings.TrimSpace(raw) != raw || strings.ContainsAny(raw, "\x00\r\n\t ") {
		return bad("must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return bad("must be an absolute http or https URL")
	}
	if u.User != nil {
		return bad("credentials in the URL (user:password@) are not accepted: they would show wherever the URL is shown; the receiver authenticates dirsync by the webhook-signature header")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return bad("must be an absolute http or https URL with a host")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		return bad("must not have a fragment (#...)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("port %s is not a TCP port", p)
		}
	}
	if err := safehttp.NewScreen(allow).CheckHost(u.Hostname()); err != nil {
		return bad("%v", err)
	}
	return nil
}

// RedactURL returns raw without the credentials it may hold (a URL stored
// before ValidateURL refused them): user info becomes "REDACTED". A URL
// that does not parse is replaced whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unreadable URL)"
	}
	if u.User == nil {
		return raw
	}
	u.User = url.User("REDACTED")
	return u.String()
}
