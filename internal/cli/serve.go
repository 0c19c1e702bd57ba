package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/internal/store"
)

// serveConfig is what dirsync serve reads from its config file (JSON), and
// the names of its flags and DIRSYNC_* environment variables.
type serveConfig struct {
	Listen        string `json:"listen"`
	DB            string `json:"db"`
	LogLevel      string `json:"log_level"`
	Workers       int    `json:"workers"`
	ShutdownGrace string `json:"shutdown_grace"`
	// SMTP is where owners are mailed about sources needing them; its
	// password comes only from DIRSYNC_SMTP_PASSWORD.
	SMTP service.SMTPConfig `json:"smtp"`
	// WebhookAllow names the private targets webhooks may reach: CIDRs,
	// addresses and host names ("*.corp.example" for a whole domain).
	WebhookAllow []string `json:"webhook_allow"`
	// Test and tuning knobs, hidden from --help.
	Tick              string `json:"tick"`
	WebhookBackoff    string `json:"webhook_backoff"`
	WebhookMaxBackoff string `json:"webhook_max_backoff"`
	WebhookRetryFor   string `json:"webhook_retry_for"`
}

func (a *app) serveCommand() *cobra.Command {
	var flags serveConfig
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8080] [--config FILE]",
		Short: "Run the REST API, the scheduler, the sync workers and the webhook dispatcher",
		Long: `Serve the REST API at /api/v1 (bearer tokens: dirsync token create --role ROLE),
sync every source on its schedule, deliver change events to webhooks, and
expose /healthz, /readyz and Prometheus metrics at /metrics. Logs are JSON
on standard error.

Settings come from flags, then DIRSYNC_* environment variables (DIRSYNC_LISTEN,
DIRSYNC_WORKERS, DIRSYNC_SHUTDOWN_GRACE, DIRSYNC_LOG_LEVEL, DIRSYNC_DB), then
the JSON config file (keys listen, db, log_level, workers, shutdown_grace,
smtp {addr, from, to, username}, webhook_allow). The owners are mailed when a source needs
reauthorization or its client secret nears expiry if SMTP is set
(DIRSYNC_SMTP_ADDR, DIRSYNC_SMTP_FROM, DIRSYNC_SMTP_TO comma separated,
DIRSYNC_SMTP_USERNAME, DIRSYNC_SMTP_PASSWORD from the environment only).

Webhooks are delivered to public addresses only: loopback, private,
link-local, carrier-grade NAT and the other special ranges are refused, on
the address actually dialed, and redirects are never followed. Private
receivers a deployment trusts are named with --webhook-allow (env
DIRSYNC_WEBHOOK_ALLOW, config webhook_allow): CIDRs, addresses, or host
names, comma separated, such as 10.20.0.0/16,hooks.corp.example.

On SIGTERM or Ctrl-C it stops accepting requests, lets running syncs finish
for --shutdown-grace, then cancels them: a cancelled run applies nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if configFile == "" {
				configFile = os.Getenv("DIRSYNC_CONFIG")
			}
			var file serveConfig
			if configFile != "" {
				data, err := os.ReadFile(configFile)
				if err != nil {
					return usageErr("--config: %v", err)
				}
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&file); err != nil {
					return usageErr("--config %s: %v", configFile, err)
				}
			}
			pick := func(flag, flagVal, env, fileVal, def string) string {
				if f := cmd.Flag(flag); f != nil && f.Changed {
					return flagVal
				}
				if v := os.Getenv(env); v != "" {
					return v
				}
				if fileVal != "" {
					return fileVal
				}
				return def
			}
			dur := func(flag, flagVal, env, fileVal string) (time.Duration, error) {
				v := pick(flag, flagVal, env, fileVal, "")
				if v == "" {
					return 0, nil
				}
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					return 0, usageErr("%s: %q is not a duration such as 30s or 5m", flag, v)
				}
				return d, nil
			}
			listen := pick("listen", flags.Listen, "DIRSYNC_LISTEN", file.Listen, "127.0.0.1:8080")
			if a.dbPath == "" && os.Getenv("DIRSYNC_DB") == "" {
				a.dbPath = file.DB
			}
			a.logLevel = pick("log-level", a.logLevel, "DIRSYNC_LOG_LEVEL", file.LogLevel, "info")
			var cfg service.Config
			var err error
			fileWorkers := ""
			if file.Workers != 0 {
				fileWorkers = strconv.Itoa(file.Workers)
			}
			workers := pick("workers", strconv.Itoa(flags.Workers), "DIRSYNC_WORKERS", fileWorkers, "2")
			if cfg.Workers, err = strconv.Atoi(workers); err != nil || cfg.Workers < 1 {
				return usageErr("--workers: %q is not a positive number", workers)
			}
			if cfg.ShutdownGrace, err = dur("shutdown-grace", flags.ShutdownGrace, "DIRSYNC_SHUTDOWN_GRACE", file.ShutdownGrace); err != nil {
				return err
			}
			if cfg.Tick, err = dur("tick", flags.Tick, "DIRSYNC_TICK", file.Tick); err != nil {
				return err
			}
			if cfg.WebhookFirstBackoff, err = dur("webhook-backoff", flags.WebhookBackoff, "DIRSYNC_WEBHOOK_BACKOFF", file.WebhookBackoff); err != nil {
				return err
			}
			if cfg.WebhookMaxBackoff, err = dur("webhook-max-backoff", flags.WebhookMaxBackoff, "DIRSYNC_WEBHOOK_MAX_BACKOFF", file.WebhookMaxBackoff); err != nil {
				return err
			}
			if cfg.WebhookRetryFor, err = dur("webhook-retry-for", flags.WebhookRetryFor, "DIRSYNC_WEBHOOK_RETRY_FOR", file.WebhookRetryFor); err != nil {
				return err
			}

			allow := file.WebhookAllow
			if v := os.Getenv("DIRSYNC_WEBHOOK_ALLOW"); v != "" {
				allow = []string{v}
			}
			if cmd.Flag("webhook-allow").Changed {
				allow = flags.WebhookAllow
			}
			if cfg.WebhookAllowList, err = safehttp.ParseAllowList(allow); err != nil {
				return usageErr("--webhook-allow: %v", err)
			}

			cfg.SMTP = file.SMTP
			for env, p := range map[string]*string{"DIRSYNC_SMTP_ADDR": &cfg.SMTP.Addr, "DIRSYNC_SMTP_FROM": &cfg.SMTP.From, "DIRSYNC_SMTP_USERNAME": &cfg.SMTP.Username} {
				if v := os.Getenv(env); v != "" {
					*p = v
				}
			}
			if v := os.Getenv("DIRSYNC_SMTP_TO"); v != "" {
				cfg.SMTP.To = strings.Split(v, ",")
			}
			cfg.SMTP.Password = os.Getenv("DIRSYNC_SMTP_PASSWORD")
			if cfg.SMTP.Addr != "" && (cfg.SMTP.From == "" || len(cfg.SMTP.To) == 0) {
				return usageErr("smtp: give from and to with addr")
			}
			// Test only: run the service's clock ahead, so an end-to-end
			// test meets a schedule's slot without waiting for it.
			if v := os.Getenv("DIRSYNC_TEST_CLOCK_OFFSET"); v != "" {
				off, err := time.ParseDuration(v)
				if err != nil {
					return usageErr("DIRSYNC_TEST_CLOCK_OFFSET: %v", err)
				}
				cfg.Now = func() time.Time { return time.Now().Add(off) }
			}
			st, err := a.open(ctx)
			if err != nil {
				return err
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
				return usageErr("--log-level: %q is not debug, info, warn or error", a.logLevel)
			}
			logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))

			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageErr("--listen %s: %v", listen, err)
			}
			a.printf("dirsync serving on http://%s\n", ln.Addr())
			if svc, ok := store.ServiceOf(st); ok {
				if accs, err := st.Accounts(ctx); err == nil {
					n := 0
					for _, acc := range accs {
						toks, _ := svc.Tokens(ctx, acc.ID)
						n += len(toks)
					}
					if n == 0 {
						logger.Warn("no API tokens yet; create one with: dirsync token create --role owner")
					}
				}
			}
			return service.New(st, a.box, cfg, logger).Run(ctx, ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.Listen, "listen", "127.0.0.1:8080", "address to serve on (env DIRSYNC_LISTEN)")
	f.StringVar(&configFile, "config", "", "JSON config file (env DIRSYNC_CONFIG)")
	f.IntVar(&flags.Workers, "workers", 2, "syncs that may run at once (env DIRSYNC_WORKERS)")
	f.StringSliceVar(&flags.WebhookAllow, "webhook-allow", nil, "private webhook targets to allow: CIDRs, addresses, host names (env DIRSYNC_WEBHOOK_ALLOW)")
	f.StringVar(&flags.ShutdownGrace, "shutdown-grace", "60s", "how long running syncs may finish at shutdown (env DIRSYNC_SHUTDOWN_GRACE)")
	for _, h := range []struct{ name, usage string }{
		{"tick", "how often schedules and webhooks are looked at (env DIRSYNC_TICK)"},
		{"webhook-backoff", "wait after a webhook's first failure (env DIRSYNC_WEBHOOK_BACKOFF)"},
		{"webhook-max-backoff", "longest wait between webhook retries (env DIRSYNC_WEBHOOK_MAX_BACKOFF)"},
		{"webhook-retry-for", "how long a webhook event is retried (env DIRSYNC_WEBHOOK_RETRY_FOR)"},
	} {
		var p *string
		switch h.name {
		case "tick":
			p = &flags.Tick
		case "webhook-backoff":
			p = &flags.WebhookBackoff
		case "webhook-max-backoff":
			p = &flags.WebhookMaxBackoff
		default:
			p = &flags.WebhookRetryFor
		}
		f.StringVar(p, h.name, "", h.usage)
		f.MarkHidden(h.name)
	}
	return cmd
}
