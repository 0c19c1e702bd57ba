// Package factory builds dirsync's parts the one way the command line, the
// API server and the service all use: the store (a SQLite file or a
// PostgreSQL URL), the secret box with its master key, the connector
// registry, the sync engine, and the application layer over them. A knob
// (the lease TTL, a retention) therefore works the same everywhere.
package factory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/engine"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/secret"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore"
)

// Options say what to open and how.
type Options struct {
	// DB is a SQLite file's path or a postgres:// (postgresql://) URL;
	// empty means DefaultDBPath.
	DB string
	// KeyFile holds the master key when DIRSYNC_MASTER_KEY is not set;
	// empty means beside a SQLite database (its name with .key), or
	// dirsync.key in the data directory for PostgreSQL.
	KeyFile string
	// Existing is for commands that only read: a SQLite database that does
	// not exist is an error, and nothing is created (no database, no
	// directory, no key).
	Existing bool

	// Workers is how many syncs may run at once in this process; the
	// PostgreSQL pool is sized from it.
	Workers int

	LeaseTTL       time.Duration
	TrashRetention time.Duration
	EventRetention time.Duration
	BusyRetry      time.Duration

	Clock  clock.Clock
	Logger *slog.Logger
	// Connect overrides how connectors are opened (tests).
	Connect func(src directory.Source, secret []byte) (connector.Connector, error)
	// WebhookClient sends webhook test deliveries (tests); nil means one
	// that dials only what WebhookAllow allows.
	WebhookClient *http.Client
	// WebhookAllow names the private targets webhooks may have.
	WebhookAllow safehttp.AllowList
}

// Parts are what Open built. Front ends use Manager; the service also
// needs Store and Box (the webhook dispatcher reads the store directly).
type Parts struct {
	Store   store.Store
	Box     *secret.Box
	Engine  *engine.Engine
	Manager *manage.Manager
	// DB names the database for messages (a URL without its password).
	DB string
	// KeyFile is the key file in use; "" when the key came from the
	// environment.
	KeyFile string
	// WebhookAllow is the deployment's webhook allow list, for the
	// dispatcher.
	WebhookAllow safehttp.AllowList
}

// Close closes the store.
func (p *Parts) Close() error { return p.Store.Close() }

// DefaultDataDir is $XDG_DATA_HOME/dirsync, else ~/.local/share/dirsync.
func DefaultDataDir() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no database given and no home directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "dirsync"), nil
}

// DefaultDBPath is dirsync.db in DefaultDataDir.
func DefaultDBPath() (string, error) {
	dir, err := DefaultDataDir()
	return filepath.Join(dir, "dirsync.db"), err
}

// IsPostgres reports whether db names a PostgreSQL database.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open opens the store and the master key and builds the parts over them.
func Open(ctx context.Context, o Options) (*Parts, error) {
	p := &Parts{WebhookAllow: o.WebhookAllow}
	var err error
	if p.Store, p.DB, err = openStore(ctx, o); err != nil {
		return nil, err
	}
	if p.Box, p.KeyFile, err = openBox(ctx, p.Store, o); err != nil {
		p.Store.Close()
		return nil, err
	}
	p.Engine = &engine.Engine{Store: p.Store, Clock: o.Clock, Logger: o.Logger, LeaseTTL: o.LeaseTTL}
	p.Manager = manage.New(manage.Deps{Store: p.Store, Engine: p.Engine, Box: p.Box, Connect: o.Connect, Clock: o.Clock,
		Logger: o.Logger, TrashRetention: o.TrashRetention, EventRetention: o.EventRetention, BusyRetry: o.BusyRetry,
		WebhookClient: o.WebhookClient, WebhookAllow: o.WebhookAllow})
	return p, nil
}

func openStore(ctx context.Context, o Options) (store.Store, string, error) {
	db := o.DB
	var opts []sqlstore.Option
	if o.Clock != nil {
		opts = append(opts, sqlstore.WithClock(o.Clock))
	}
	if IsPostgres(db) {
		// A running sync holds a few connections at once (its apply, its
		// staging, its lease); the API, the scheduler and the dispatcher
		// share the rest.
		opts = append(opts, sqlstore.WithMaxConns(max(4*o.Workers+8, sqlstore.DefaultMaxConns)))
		st, err := sqlstore.OpenPostgres(ctx, db, opts...)
		name := redact(db)
		if err != nil {
			return nil, name, &manage.Error{Kind: manage.Unavailable, Message: "cannot open the PostgreSQL database " + name + ": " + rootCause(err), Err: err}
		}
		return st, name, nil
	}
	if db == "" {
		var err error
		if db, err = DefaultDBPath(); err != nil {
			return nil, db, err
		}
	}
	if err := prepareSQLite(db, o.Existing); err != nil {
		return nil, db, err
	}
	st, err := sqlstore.OpenSQLite(ctx, db, opts...)
	if err != nil {
		return nil, db, &manage.Error{Kind: manage.Unavailable, Message: "cannot open the database " + db + ": " + rootCause(err), Err: err}
	}
	return st, db, nil
}

// prepareSQLite checks that a database a read needs exists, and creates a
// new one's file (0600) and directory (0700) before SQLite does, so that
// neither is ever readable by others.
func prepareSQLite(path string, existing bool) error {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return &manage.Error{Kind: manage.Unavailable, Message: "cannot open the database " + path + ": " + rootCause(err), Err: err}
	case existing:
		return &manage.Error{Kind: manage.NotFound, Field: "db",
			Message: "no database at " + path + ": give --db (or DIRSYNC_DB), or create it with a command that changes something, such as dirsync source add"}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return &manage.Error{Kind: manage.Unavailable, Message: "cannot create the database's directory: " + rootCause(err), Err: err}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil // created meanwhile by another process
	}
	if err != nil {
		return &manage.Error{Kind: manage.Unavailable, Message: "cannot create the database " + path + ": " + rootCause(err), Err: err}
	}
	return f.Close()
}

// openBox loads the master key: DIRSYNC_MASTER_KEY, else the key file. A
// missing key file is created, unless the database holds secrets: they
// were sealed under a key that is lost or misplaced, and a new key would
// only hide that until their first use.
func openBox(ctx context.Context, st store.Store, o Options) (*secret.Box, string, error) {
	key, fromEnv, err := secret.KeyFromEnv()
	if err != nil {
		return nil, "", &manage.Error{Kind: manage.Invalid, Field: secret.EnvMasterKey, Message: err.Error()}
	}
	keyFile := ""
	if !fromEnv {
		if keyFile, err = keyFilePath(o); err != nil {
			return nil, "", err
		}
		key, err = secret.ReadKeyFile(keyFile)
		if errors.Is(err, os.ErrNotExist) {
			key, err = newKey(ctx, st, keyFile, o.Existing)
		}
		if err != nil {
			return nil, keyFile, err
		}
		if key == nil {
			return nil, keyFile, nil // a read on a database without secrets needs no key
		}
	}
	box, err := secret.New(key)
	if err != nil {
		return nil, keyFile, err
	}
	if err := checkKey(ctx, st, box, keyFile); err != nil {
		return nil, keyFile, err
	}
	return box, keyFile, nil
}

func keyFilePath(o Options) (string, error) {
	if o.KeyFile != "" {
		return o.KeyFile, nil
	}
	if !IsPostgres(o.DB) {
		db := o.DB
		if db == "" {
			var err error
			if db, err = DefaultDBPath(); err != nil {
				return "", err
			}
		}
		return strings.TrimSuffix(db, filepath.Ext(db)) + ".key", nil
	}
	dir, err := DefaultDataDir()
	return filepath.Join(dir, "dirsync.key"), err
}

// newKey makes the key of a database that has none yet.
func newKey(ctx context.Context, st store.Store, keyFile string, readOnly bool) ([]byte, error) {
	sealed, err := sealedSecrets(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(sealed) > 0 {
		return nil, &manage.Error{Kind: manage.Unavailable, Field: "key_file", Message: fmt.Sprintf(
			"the master key file %s is missing, and the database holds secrets sealed under it: restore the key file (from the backup of the machine it was made on), or set %s to that key; a new key would not open them",
			keyFile, secret.EnvMasterKey)}
	}
	if readOnly {
		return nil, nil
	}
	return secret.CreateKeyFile(keyFile)
}

// checkKey opens one sealed secret, so that a wrong key is reported at
// once, naming the way out, rather than as a failed sync later.
func checkKey(ctx context.Context, st store.Store, box *secret.Box, keyFile string) error {
	sealed, err := sealedSecrets(ctx, st)
	if err != nil || len(sealed) == 0 {
		return err
	}
	if _, err := box.Open(sealed[0]); err != nil {
		from := "DIRSYNC_MASTER_KEY"
		if keyFile != "" {
			from = "the key file " + keyFile
		}
		return &manage.Error{Kind: manage.Unavailable, Message: fmt.Sprintf(
			"the master key from %s does not open the secrets in this database: it is not the key that sealed them; restore that key file, or set %s to that key",
			from, secret.EnvMasterKey), Err: err}
	}
	return nil
}

// sealedSecrets lists sealed secrets in the database: sources' and
// targets' credentials and webhooks' signing secrets (a few per account).
func sealedSecrets(ctx context.Context, st store.Store) ([][]byte, error) {
	accs, err := st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, acc := range accs {
		srcs, err := st.Sources(ctx, acc.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range srcs {
			if len(s.Secret) > 0 {
				out = append(out, s.Secret)
			}
		}
		hooks, err := st.Webhooks(ctx, acc.ID)
		if err != nil {
			return nil, err
		}
		for _, h := range hooks {
			if len(h.Secret) > 0 {
				out = append(out, h.Secret)
			}
		}
		targets, err := st.Targets(ctx, acc.ID)
		if err != nil {
			return nil, err
		}
		for _, tg := range targets {
			if len(tg.Secret) > 0 {
				out = append(out, tg.Secret)
			}
		}
	}
	return out, nil
}

// redact drops the password from a database URL.
func redact(db string) string {
	u, err := url.Parse(db)
	if err != nil {
		return "(a PostgreSQL URL)"
	}
	return u.Redacted()
}

// rootCause is the innermost error's text: what a person needs, without
// the chain of contexts above it.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// ScratchDatabase is an empty PostgreSQL database made for a measurement.
type ScratchDatabase = sqlstore.ScratchPostgres

// ScratchPostgres creates an empty database beside the one the postgres://
// URL db names, on the same server, for a measurement that must start
// from nothing and leave the named database alone (dirsync bench). Its
// Drop removes it.
func ScratchPostgres(ctx context.Context, db, prefix string) (*ScratchDatabase, error) {
	d, err := sqlstore.CreateScratchPostgres(ctx, db, prefix)
	if err != nil {
		return nil, &manage.Error{Kind: manage.Unavailable, Message: "cannot create a scratch database on " + redact(db) + ": " + rootCause(err), Err: err}
	}
	return d, nil
}
