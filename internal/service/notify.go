package service

import (
	"log/slog"
	"net/smtp"
	"strings"
)

// SMTPConfig is where notifications to the owners are mailed. The model has
// no owners' addresses, so the deployment lists them.
type SMTPConfig struct {
	Addr     string   `json:"addr"` // host:port
	From     string   `json:"from"`
	To       []string `json:"to"`
	Username string   `json:"username,omitempty"`
	// Password comes from the environment (DIRSYNC_SMTP_PASSWORD), never a file or flag.
	Password string `json:"-"`
}

// Notifier tells the account's owners about a source that needs them: by
// mail when SMTP is configured; the event in the feed is written regardless.
type Notifier struct {
	SMTP   SMTPConfig
	Logger *slog.Logger
	// Send is smtp.SendMail; tests may replace it.
	Send func(addr string, a smtp.Auth, from string, to []string, msg []byte) error
}

// Notify mails the event's subject and text; failures are logged, as the
// event itself already records what happened.
func (n *Notifier) Notify(subject, text string) {
	if n == nil || n.SMTP.Addr == "" || len(n.SMTP.To) == 0 {
		return
	}
	send := n.Send
	if send == nil {
		send = smtp.SendMail
	}
	var auth smtp.Auth
	if n.SMTP.Username != "" {
		host, _, _ := strings.Cut(n.SMTP.Addr, ":")
		auth = smtp.PlainAuth("", n.SMTP.Username, n.SMTP.Password, host)
	}
	// Header values are ours (source names may be anyone's: strip line breaks).
	clean := strings.NewReplacer("\r", " ", "\n", " ")
	msg := "From: " + n.SMTP.From + "\r\nTo: " + strings.Join(n.SMTP.To, ", ") + "\r\nSubject: " + clean.Replace(subject) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(text, "\n", "\r\n") + "\r\n"
	if err := send(n.SMTP.Addr, auth, n.SMTP.From, n.SMTP.To, []byte(msg)); err != nil && n.Logger != nil {
		n.Logger.Warn("notification mail not sent", "subject", subject, "err", err)
	}
}
