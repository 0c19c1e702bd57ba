// Package mail is how dirsync sends mail: the users' enrollment links and
// the notifications that tell an account's administrators about a source
// that needs them. Sending goes through github.com/wneessen/go-mail (SMTP
// with STARTTLS or implicit TLS, authentication, timeouts, multipart
// text and HTML); nothing is sent from a request or a sync directly: every
// mail is written to the outbox in the transaction that decides it, and
// the Outbox (outbox.go) sends it once, across restarts and replicas,
// retrying with backoff, and keeps the record of what happened to it.
//
// template.go fills the placeholders of administrators' templates.
package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Security says how the connection to the SMTP server is protected.
type Security string

// Security modes.
const (
	// StartTLS connects in the clear and upgrades with STARTTLS, which the
	// server must offer (submission, port 587): the default.
	StartTLS Security = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS Security = "tls"
	// NoTLS never encrypts: for a relay on the same machine only. A
	// password is never sent over it except to localhost.
	NoTLS Security = "none"
)

// DefaultTimeout bounds one conversation with the SMTP server.
const DefaultTimeout = 30 * time.Second

// Config says where and how mail is sent.
type Config struct {
	// Addr is the server's host:port; a host alone means port 587 (465
	// with implicit TLS, 25 without TLS).
	Addr     string
	Security Security
	// Username and Password authenticate, when Username is set (the
	// strongest mechanism both sides know: SCRAM, CRAM-MD5, then PLAIN or
	// LOGIN, the last two over TLS only).
	Username string
	Password string
	// From is the sender, an address or "Name <address>".
	From string
	// Timeout bounds one conversation (default DefaultTimeout).
	Timeout time.Duration
	// RootCAs are the authorities the server's certificate is checked
	// against; nil means the system's.
	RootCAs *x509.CertPool
	// HELO is the name dirsync greets the server with (default the host
	// name).
	HELO string
}

// Enabled reports whether a server is configured.
func (c Config) Enabled() bool { return c.Addr != "" }

// hostPort splits Addr, with the port its security implies when none is
// given.
func (c Config) hostPort() (string, int, error) {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		host = c.Addr
		switch c.Security {
		case ImplicitTLS:
			port = "465"
		case NoTLS:
			port = "25"
		default:
			port = "587"
		}
	}
	n, perr := strconv.Atoi(port)
	if host == "" || perr != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("smtp server %q: want host:port, such as smtp.example.com:587", c.Addr)
	}
	return host, n, nil
}

// Validate checks the configuration without connecting.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if _, _, err := c.hostPort(); err != nil {
		return err
	}
	switch c.Security {
	case "", StartTLS, ImplicitTLS, NoTLS:
	default:
		return fmt.Errorf("smtp security %q: want starttls, tls or none", c.Security)
	}
	if c.From == "" {
		return errors.New("smtp: the sender (From) is required")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("smtp sender %q is not an address: %v", c.From, err)
	}
	if c.Password != "" && c.Username == "" {
		return errors.New("smtp: a password without a user name")
	}
	return nil
}

// Message is one mail to one recipient.
type Message struct {
	// ID is the outbox's id: the Message-ID is made from it, so every
	// attempt at the same mail carries the same Message-ID and a receiver
	// can tell a repeated delivery for what it is.
	ID      string
	To      string
	Subject string
	// Text is the plain-text body; HTML, when set, is its alternative.
	Text string
	HTML string
	Date time.Time
	// Headers are extra header fields (Auto-Submitted, List-Id...).
	Headers map[string]string
}

// Sender sends one message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SendError is why a server did not take a message.
type SendError struct {
	// Permanent says that trying again will not help: the server answered
	// 5xx. A permanent refusal of the recipient is Refused.
	Permanent bool
	// Refused says the server refused the recipient's address (5xx to
	// RCPT TO): an address that does not exist or does not take mail.
	Refused bool
	// Code is the server's reply code; 0 when it never answered (a
	// network failure, a timeout).
	Code int
	Err  error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// IsRefused reports whether err says the recipient's address was refused.
func IsRefused(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Refused
}

// IsPermanent reports whether trying err's mail again cannot help.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// SMTP sends through an SMTP server.
type SMTP struct {
	cfg  Config
	host string
	port int
	from *mail.Address
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns its sender.
func NewSMTP(cfg Config) (*SMTP, error) {
	if !cfg.Enabled() {
		return nil, errors.New("smtp: no server configured")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Security == "" {
		cfg.Security = StartTLS
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	host, port, _ := cfg.hostPort()
	from, _ := mail.ParseAddress(cfg.From)
	return &SMTP{cfg: cfg, host: host, port: port, from: from}, nil
}

// From is the sender's address.
func (s *SMTP) From() string { return s.from.Address }

// MessageID is the Message-ID (without angle brackets) of the outbox's
// mail id, in the sender's domain.
func (s *SMTP) MessageID(id string) string {
	_, domain, _ := strings.Cut(s.from.Address, "@")
	return id + "@" + domain
}

// Send sends m in one conversation. Cancelling ctx aborts it at once, even
// in the middle of the message: the server then never accepts it.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return &SendError{Permanent: true, Err: err}
	}
	var (
		mu    sync.Mutex
		stops []func() bool
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, stop := range stops {
			stop()
		}
	}()
	tlsConfig := &tls.Config{ServerName: s.host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	// go-mail's context bounds only the dial: the connection is closed when
	// ctx ends, so that a shutdown never waits out a slow server.
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: s.cfg.Timeout}
		var conn net.Conn
		var err error
		if s.cfg.Security == ImplicitTLS {
			conn, err = (&tls.Dialer{NetDialer: d, Config: tlsConfig}).DialContext(dctx, network, addr)
		} else {
			conn, err = d.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		mu.Lock()
		stops = append(stops, context.AfterFunc(ctx, func() { conn.Close() }))
		mu.Unlock()
		return conn, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(tlsConfig),
	}
	switch s.cfg.Security {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default: // implicit TLS is the dialer's; none is none
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return &SendError{Permanent: true, Err: fmt.Errorf("smtp: %w", err)}
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("smtp: %w (%v)", ctx.Err(), err)
	}
	return classify(err)
}

// build makes the go-mail message: text, and HTML as its alternative.
func (s *SMTP) build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	if m.ID != "" {
		msg.SetMessageIDWithValue(s.MessageID(m.ID))
	} else {
		msg.SetMessageID()
	}
	if m.Date.IsZero() {
		msg.SetDate()
	} else {
		msg.SetDateWithValue(m.Date)
	}
	msg.SetUserAgent("dirsync")
	for k, v := range m.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// classify turns go-mail's error into a SendError: what the server said,
// and whether it refused the recipient.
func classify(err error) error {
	se := &SendError{Err: err}
	var gse *gomail.SendError
	if errors.As(err, &gse) {
		se.Code = gse.ErrorCode()
		se.Permanent = se.Code >= 500 && se.Code < 600
		se.Refused = se.Permanent && gse.Reason == gomail.ErrSMTPRcptTo
		return se
	}
	// A refusal before any message (authentication, STARTTLS missing)
	// comes as the protocol's error: a configuration to fix, retried.
	var code int
	if n, scanErr := fmt.Sscanf(lastLine(err.Error()), "%d ", &code); n == 1 && scanErr == nil {
		se.Code = code
	}
	return se
}

func lastLine(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// ValidAddress reports whether addr is one mail address a server can
// take: bare (no display name), with a local part and a domain.
func ValidAddress(addr string) bool {
	if addr == "" || strings.ContainsAny(addr, " \t\r\n<>,;") {
		return false
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr {
		return false
	}
	local, domain, ok := strings.Cut(addr, "@")
	return ok && local != "" && domain != "" && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
