// Package config is dirsync's one table of settings: for each, its
// command-line flag, its environment variable, its key in the JSON config
// file, its default and its help. Resolve layers them the same way for
// every setting (flag, then environment, then file, then default) and
// checks each value's type, naming where a bad value came from.
//
// The package is pure: the command line binds the table to its flags, and
// package factory and the service read the typed values.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is how a setting's value is read.
type Type int

// Setting types.
const (
	String   Type = iota
	Int           // a positive whole number
	Duration      // Go's durations (30s, 5m, 2h) and days (7d)
	List          // comma separated; a JSON array in the file
)

// Setting is one row of the table.
type Setting struct {
	// Flag is the command-line flag (without --); "" for a setting that
	// only the environment may give (a password).
	Flag string
	// Env is the environment variable; "" for none.
	Env string
	// Key is the config file key, dotted for nested objects ("smtp.addr");
	// "" for none.
	Key     string
	Default string
	Help    string
	Type    Type
	// Hidden keeps a tuning knob out of --help (it still works).
	Hidden bool
}

// Where names where the setting's value may come from, for help texts.
func (s Setting) Where() string {
	var w []string
	if s.Env != "" {
		w = append(w, "env "+s.Env)
	}
	if s.Key != "" {
		w = append(w, "config "+s.Key)
	}
	return strings.Join(w, ", ")
}

// Settings names.
const (
	Config         = "config"
	DB             = "db"
	Account        = "account"
	LogLevel       = "log-level"
	KeyFile        = "key-file"
	LeaseTTL       = "lease-ttl"
	TrashRetention = "trash-retention"
	WebhookAllow   = "webhook-allow"

	Listen            = "listen"
	Workers           = "workers"
	AccountWorkers    = "account-workers"
	WebhookClaim      = "webhook-claim"
	ShutdownGrace     = "shutdown-grace"
	Tick              = "tick"
	EventRetention    = "event-retention"
	BusyRetry         = "busy-retry"
	WebhookBackoff    = "webhook-backoff"
	WebhookMaxBackoff = "webhook-max-backoff"
	WebhookRetryFor   = "webhook-retry-for"
	SMTPAddr          = "smtp-addr"
	SMTPFrom          = "smtp-from"
	SMTPTo            = "smtp-to"
	SMTPUsername      = "smtp-username"
	SMTPPassword      = "smtp-password"
	SMTPSecurity      = "smtp-security"
	SMTPCAFile        = "smtp-ca-file"
	SMTPTimeout       = "smtp-timeout"
	PublicURL         = "public-url"
)

// Global are the settings of every command.
var Global = []Setting{
	{Flag: Config, Env: "DIRSYNC_CONFIG", Help: "JSON config file of the settings below (keys as listed)"},
	{Flag: DB, Env: "DIRSYNC_DB", Key: "db", Help: "database: a SQLite file, or a postgres:// URL (default: dirsync.db in the user data directory)"},
	{Flag: Account, Env: "DIRSYNC_ACCOUNT", Key: "account", Help: "account (customer organization) to work in (default \"default\", created on first use)"},
	{Flag: LogLevel, Env: "DIRSYNC_LOG_LEVEL", Key: "log_level", Help: "log level: debug, info, warn, error; logs go to standard error (default error: a command prints what happened; info for serve)"},
	{Flag: KeyFile, Env: "DIRSYNC_KEY_FILE", Key: "key_file", Help: "file of the master key that seals secrets, when DIRSYNC_MASTER_KEY is not set (default: beside a SQLite database, else in the user data directory)"},
	{Flag: LeaseTTL, Env: "DIRSYNC_LEASE_TTL", Key: "lease_ttl", Default: "1m", Type: Duration, Help: "how long a crashed run keeps its source locked"},
	{Flag: TrashRetention, Env: "DIRSYNC_TRASH_RETENTION", Key: "trash_retention", Default: "7d", Type: Duration, Help: "how long the trash keeps users and groups before they are purged"},
	{Flag: WebhookAllow, Env: "DIRSYNC_WEBHOOK_ALLOW", Key: "webhook_allow", Type: List, Help: "private webhook targets to allow, comma separated: CIDRs, addresses, host names (*.corp.example for a domain); webhooks reach public addresses only otherwise"},
}

// Serve are the settings of dirsync serve.
var Serve = []Setting{
	{Flag: Listen, Env: "DIRSYNC_LISTEN", Key: "listen", Default: "127.0.0.1:8080", Help: "address to serve on"},
	{Flag: Workers, Env: "DIRSYNC_WORKERS", Key: "workers", Default: "2", Type: Int, Help: "syncs that may run at once"},
	{Flag: AccountWorkers, Env: "DIRSYNC_ACCOUNT_WORKERS", Key: "account_workers", Type: Int, Help: "syncs of one account that may run at once in this process, so one account never holds every worker (default: half of --workers, at least one)"},
	{Flag: WebhookClaim, Env: "DIRSYNC_WEBHOOK_CLAIM", Key: "webhook_claim", Type: Duration, Help: "how long a replica that stopped answering keeps a webhook endpoint it was delivering to before another replica takes over (default: --lease-ttl)"},
	{Flag: ShutdownGrace, Env: "DIRSYNC_SHUTDOWN_GRACE", Key: "shutdown_grace", Default: "60s", Type: Duration, Help: "how long running syncs may finish at shutdown"},
	{Flag: EventRetention, Env: "DIRSYNC_EVENT_RETENTION", Key: "event_retention", Default: "30d", Type: Duration, Help: "how long change events and webhook delivery logs are kept"},
	{Flag: SMTPAddr, Env: "DIRSYNC_SMTP_ADDR", Key: "smtp.addr", Help: "SMTP server (host:port) that enrollment links and notifications go through; without it they stay queued"},
	{Flag: SMTPSecurity, Env: "DIRSYNC_SMTP_SECURITY", Key: "smtp.security", Default: "starttls", Help: "starttls (required, port 587), tls (implicit TLS, port 465) or none (a relay on this machine)"},
	{Flag: SMTPFrom, Env: "DIRSYNC_SMTP_FROM", Key: "smtp.from", Help: "sender of the mails, an address or \"Name <address>\""},
	{Flag: SMTPTo, Env: "DIRSYNC_SMTP_TO", Key: "smtp.to", Type: List, Help: "addresses given every account's notifications, comma separated (each account adds its own: dirsync account settings --notify-email)"},
	{Flag: SMTPUsername, Env: "DIRSYNC_SMTP_USERNAME", Key: "smtp.username", Help: "SMTP user name"},
	{Env: "DIRSYNC_SMTP_PASSWORD", Help: "SMTP password (environment only)"},
	{Flag: SMTPCAFile, Env: "DIRSYNC_SMTP_CA_FILE", Key: "smtp.ca_file", Help: "PEM file of the authorities to trust for the SMTP server's certificate (default: the system's)"},
	{Flag: SMTPTimeout, Env: "DIRSYNC_SMTP_TIMEOUT", Key: "smtp.timeout", Default: "30s", Type: Duration, Help: "how long one conversation with the SMTP server may take"},
	{Flag: PublicURL, Env: "DIRSYNC_PUBLIC_URL", Key: "public_url", Help: "the address people reach this server at (https://dirsync.example.com), for the links in notifications (default: http:// and --listen)"},
	{Flag: Tick, Env: "DIRSYNC_TICK", Key: "tick", Default: "15s", Type: Duration, Hidden: true, Help: "how often schedules and webhooks are looked at"},
	{Flag: BusyRetry, Env: "DIRSYNC_BUSY_RETRY", Key: "busy_retry", Default: "30s", Type: Duration, Hidden: true, Help: "wait before a queued run retries a source another process runs"},
	{Flag: WebhookBackoff, Env: "DIRSYNC_WEBHOOK_BACKOFF", Key: "webhook_backoff", Default: "5s", Type: Duration, Hidden: true, Help: "wait after a webhook's first failure"},
	{Flag: WebhookMaxBackoff, Env: "DIRSYNC_WEBHOOK_MAX_BACKOFF", Key: "webhook_max_backoff", Default: "1h", Type: Duration, Hidden: true, Help: "longest wait between webhook retries"},
	{Flag: WebhookRetryFor, Env: "DIRSYNC_WEBHOOK_RETRY_FOR", Key: "webhook_retry_for", Default: "25h", Type: Duration, Hidden: true, Help: "how long a webhook event is retried"},
}

// Values are resolved settings.
type Values struct {
	values map[string]value
}

type value struct {
	text   string
	source string // where it came from, for messages
}

// Sources of values. Flags and the environment are looked up by the caller
// (the command line knows which flags were given).
type Sources struct {
	// Flag returns a flag's value when it was given.
	Flag func(name string) (string, bool)
	// Env returns an environment variable's value when it is set and not
	// empty.
	Env func(name string) (string, bool)
	// File is the config file's content; nil when there is none.
	File     []byte
	FileName string
}

// Resolve reads every setting of the tables from its sources, flag first,
// then environment, then file, then default, and checks its type.
func Resolve(src Sources, tables ...[]Setting) (Values, error) {
	file, err := flatten(src.File, src.FileName, tables)
	if err != nil {
		return Values{}, err
	}
	v := Values{values: map[string]value{}}
	var errs []error
	for _, table := range tables {
		for _, s := range table {
			got, ok := pick(s, src, file)
			if !ok {
				got = value{s.Default, "default"}
			}
			if err := check(s, got); err != nil {
				errs = append(errs, err)
			}
			v.values[name(s)] = got
		}
	}
	return v, errors.Join(errs...)
}

func name(s Setting) string {
	if s.Flag != "" {
		return s.Flag
	}
	return s.Env
}

func pick(s Setting, src Sources, file map[string]string) (value, bool) {
	if s.Flag != "" && src.Flag != nil {
		if t, ok := src.Flag(s.Flag); ok {
			return value{t, "--" + s.Flag}, true
		}
	}
	if s.Env != "" && src.Env != nil {
		if t, ok := src.Env(s.Env); ok {
			return value{t, s.Env}, true
		}
	}
	if t, ok := file[s.Key]; ok && s.Key != "" {
		return value{t, fmt.Sprintf("%s in %s", s.Key, src.FileName)}, true
	}
	return value{}, false
}

// flatten reads the config file into dotted keys, refusing keys no
// setting has.
func flatten(data []byte, fileName string, tables [][]Setting) (map[string]string, error) {
	out := map[string]string{}
	if len(bytes.TrimSpace(data)) == 0 {
		return out, nil
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("config file %s: not a JSON object: %v", fileName, err)
	}
	known := map[string]bool{}
	for _, t := range tables {
		for _, s := range t {
			if s.Key != "" {
				known[s.Key] = true
			}
		}
	}
	var walk func(prefix string, o map[string]any) error
	walk = func(prefix string, o map[string]any) error {
		for k, raw := range o {
			key := prefix + k
			if sub, ok := raw.(map[string]any); ok {
				if err := walk(key+".", sub); err != nil {
					return err
				}
				continue
			}
			if !known[key] {
				return fmt.Errorf("config file %s: unknown key %q (known: %s)", fileName, key, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
			}
			switch x := raw.(type) {
			case string:
				out[key] = x
			case json.Number:
				out[key] = x.String()
			case bool:
				out[key] = strconv.FormatBool(x)
			case []any:
				var items []string
				for _, it := range x {
					items = append(items, fmt.Sprint(it))
				}
				out[key] = strings.Join(items, ",")
			default:
				return fmt.Errorf("config file %s: %s: want a string, a number or a list", fileName, key)
			}
		}
		return nil
	}
	return out, walk("", obj)
}

func check(s Setting, v value) error {
	if v.text == "" {
		return nil
	}
	switch s.Type {
	case Int:
		if n, err := strconv.Atoi(v.text); err != nil || n < 1 {
			return fmt.Errorf("%s: %q is not a positive whole number", v.source, v.text)
		}
	case Duration:
		if d, err := ParseDuration(v.text); err != nil || d <= 0 {
			return fmt.Errorf("%s: %q is not a duration such as 30s, 5m, 2h or 7d", v.source, v.text)
		}
	}
	return nil
}

// ParseDuration reads Go's durations and whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Loaded reports whether the values were resolved.
func (v Values) Loaded() bool { return v.values != nil }

// String returns a setting's value.
func (v Values) String(name string) string { return v.values[name].text }

// Source says where a setting's value came from ("--db", "DIRSYNC_DB",
// "db in dirsync.json", "default").
func (v Values) Source(name string) string { return v.values[name].source }

// Int returns a setting of type Int (checked by Resolve).
func (v Values) Int(name string) int {
	n, _ := strconv.Atoi(v.values[name].text)
	return n
}

// Duration returns a setting of type Duration (checked by Resolve); zero
// when empty.
func (v Values) Duration(name string) time.Duration {
	d, _ := ParseDuration(v.values[name].text)
	return d
}

// List returns a setting of type List.
func (v Values) List(name string) []string {
	var out []string
	for _, p := range strings.Split(v.values[name].text, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Override sets a setting whatever was given (a command that works on a
// database of its own, such as bench).
func (v Values) Override(name, text string) { v.values[name] = value{text, "the command"} }

// Set overrides a setting (a command's own default, such as serve's log
// level); it does not override a value that was given.
func (v Values) Set(name, text string) {
	if cur, ok := v.values[name]; !ok || cur.source == "default" {
		v.values[name] = value{text, "default"}
	}
}
