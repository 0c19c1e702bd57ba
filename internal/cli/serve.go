package cli

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/mail"
	"github.com/dirsync/dirsync/internal/service"
)

func (a *app) serveCommand() *cobra.Command {
	cmd := deployment(&cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8080] [--config FILE]",
		Short: "Run the admin console, the REST API, the scheduler, the sync workers and the webhook dispatcher",
		Long: `Serve the admin console at / and the REST API at /api/v1 (bearer tokens:
dirsync token create --role ROLE),
sync every source on its schedule (dirsync source schedule), deliver change
events to webhooks, and expose /healthz, /readyz and Prometheus metrics at
/metrics. Logs are JSON on standard error.

Every setting comes from its flag, else its DIRSYNC_* environment variable,
else the JSON config file (--config or DIRSYNC_CONFIG; keys as the flags say,
smtp settings as an object: {"smtp": {"addr": ..., "to": [...]}}), else its
default. Mail (users' enrollment links; notifications when a source needs
reauthorization, its client secret nears expiry, it keeps failing, or a
run stops on the deletion limit) goes through the SMTP server when one is
set, and waits in the outbox otherwise; the SMTP password comes from
DIRSYNC_SMTP_PASSWORD only. "dirsync mail log" shows what was sent.

Syncs run on --workers workers; one account uses at most half of them (at
least one), and a run still going after 10 minutes gives its worker back to
the others, so that hanging sources in some accounts never hold up the rest.
A run is bounded by its source's max run time (dirsync source set
--max-run-time, 3h by default): past it, it fails and applies nothing.

The master key must open the database's secrets, or serve does not start.
On SIGTERM or Ctrl-C it stops accepting requests, lets running syncs finish
for --shutdown-grace, then cancels them: a cancelled run applies nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.loadSettings(cmd, config.Serve); err != nil {
				return err
			}
			v := a.settings
			v.Set(config.LogLevel, "info")
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(v.String(config.LogLevel))); err != nil {
				return usageErr("%s: %q is not debug, info, warn or error", v.Source(config.LogLevel), v.String(config.LogLevel))
			}
			if err := checkShares(v); err != nil {
				return err
			}
			smtp, err := mailConfig(v)
			if err != nil {
				return err
			}
			listen := v.String(config.Listen)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageErr("--listen: %s", listenHint(listen, err))
			}
			defer ln.Close()
			a.jsonLogs = true
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			logger := a.logger()
			if n, err := m.CountTokens(cmd.Context(), actor); err == nil && n == 0 {
				logger.Warn("no API tokens yet; create one with: dirsync token create --role owner")
			}
			logPendingContracts(cmd.Context(), a.parts, logger)
			svc := service.New(a.parts, a.serviceConfig(v, smtp, ln.Addr().String()), logger)
			a.printf("dirsync serving on http://%s\n", ln.Addr())
			// serve works for every account; the setup link is the
			// account's that --account names (the default one).
			if acc, err := m.Operator(cmd.Context(), v.String(config.Account)); err != nil {
				a.printf("Admin console: %s/ (no setup link: %v)\n", publicURL(v, ln.Addr().String()), err)
			} else if err := a.printConsole(cmd.Context(), m, acc, publicURL(v, ln.Addr().String()), false); err != nil {
				return err
			}
			return svc.Run(cmd.Context(), ln)
		},
	})
	bindSettings(cmd.Flags(), config.Serve)
	return cmd
}

// serviceConfig is the service's configuration from the settings.
func (a *app) serviceConfig(v config.Values, smtp mail.Config, addr string) service.Config {
	return service.Config{Workers: v.Int(config.Workers), AccountWorkers: v.Int(config.AccountWorkers),
		WebhookClaim: v.Duration(config.WebhookClaim), Tick: v.Duration(config.Tick),
		ShutdownGrace: v.Duration(config.ShutdownGrace), WebhookFirstBackoff: v.Duration(config.WebhookBackoff),
		WebhookMaxBackoff: v.Duration(config.WebhookMaxBackoff), WebhookRetryFor: v.Duration(config.WebhookRetryFor),
		Clock: a.opts.Clock, Mail: smtp, Notify: v.List(config.SMTPTo), ConsoleURL: publicURL(v, addr)}
}

// checkShares refuses an account share or a webhook claim that cannot work.
func checkShares(v config.Values) error {
	if w, aw := v.Int(config.Workers), v.Int(config.AccountWorkers); aw > w && w > 0 {
		return usageErr("%s: %d is more than --workers (%d)", v.Source(config.AccountWorkers), aw, w)
	}
	if d := v.Duration(config.WebhookClaim); d < 0 || (d > 0 && d < 5*time.Second) {
		return usageErr("%s: a claim shorter than 5s would be lost between two renewals", v.Source(config.WebhookClaim))
	}
	return nil
}

// logPendingContracts tells the operator of contract migrations waiting
// for every replica to run this release (dirsync db contract).
func logPendingContracts(ctx context.Context, p *factory.Parts, logger *slog.Logger) {
	if pending, err := factory.PendingContracts(ctx, p); err == nil && len(pending) > 0 {
		logger.Info("contract migrations pending: run dirsync db contract once every replica runs this release", "migrations", pending)
	}
}

// mailConfig reads the SMTP settings, checked.
func mailConfig(v config.Values) (mail.Config, error) {
	c := mail.Config{Addr: v.String(config.SMTPAddr), Security: mail.Security(v.String(config.SMTPSecurity)),
		From: v.String(config.SMTPFrom), Username: v.String(config.SMTPUsername), Password: v.String("DIRSYNC_SMTP_PASSWORD"),
		Timeout: v.Duration(config.SMTPTimeout)}
	if c.Addr == "" {
		return c, nil
	}
	if c.Security == "" {
		c.Security = mail.StartTLS
	}
	if file := v.String(config.SMTPCAFile); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return c, usageErr("%s: %v", v.Source(config.SMTPCAFile), err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return c, usageErr("%s: %s holds no PEM certificate", v.Source(config.SMTPCAFile), file)
		}
	}
	for _, a := range v.List(config.SMTPTo) {
		if !mail.ValidAddress(a) {
			return c, usageErr("%s: %q is not an email address", v.Source(config.SMTPTo), a)
		}
	}
	if err := c.Validate(); err != nil {
		return c, usageErr("%v (give smtp-from with smtp-addr)", err)
	}
	return c, nil
}

// publicURL is where people reach this server, for links in mail.
func publicURL(v config.Values, listen string) string {
	if u := v.String(config.PublicURL); u != "" {
		return u
	}
	return "http://" + listen
}

// listenHint is what to say when an address is taken.
func listenHint(addr string, err error) string {
	msg := err.Error()
	if strings.Contains(msg, "address already in use") {
		return addr + " is in use (is another dirsync demo or serve running?): stop it, or give --listen another address"
	}
	return msg
}
