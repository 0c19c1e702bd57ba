// Package sqlstore is dirsync's directory database on SQL: SQLite (the
// embedded default, through modernc.org/sqlite, no cgo) and PostgreSQL
// (through pgx). One implementation serves both; a small flavor struct holds
// what differs between them: placeholders, the schema's types, error codes,
// and how concurrent writers are kept apart.
//
// Writers never run side by side on SQLite: the database allows one writer
// at a time, so Update and the staging calls queue on a semaphore inside the
// process and take SQLite's write lock at BEGIN (BEGIN IMMEDIATE), with
// busy_timeout covering writers in other processes. PostgreSQL runs Update
// at SERIALIZABLE isolation and retries the whole function on a
// serialization failure or deadlock, so fn may run more than once there and
// must not keep state from an attempt that failed.
//
// Times are stored in UTC to the microsecond, PostgreSQL's precision.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/store"
)

//go:embed migrations
var migrations embed.FS

// Store is a directory database on SQLite or PostgreSQL.
type Store struct {
	db     *sql.DB
	flavor *flavor
	clock  clock.Clock
	// sleep waits between retries of a failed PostgreSQL transaction. It
	// is a few milliseconds of real time even when the store's clock is a
	// fake: no test steps through contention, and a fake clock nobody
	// moves would hang the transaction.
	sleep func(context.Context, time.Duration) error
	// writeSem serializes writers inside the process where the flavor
	// needs it (SQLite); it is a channel so waiting honours the context.
	writeSem chan struct{}

	// reader runs Reader methods outside any transaction.
	reader

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// ckpt tracks the background checkpoints of SQLite's write-ahead
	// log (checkpoint.go).
	ckpt checkpoints

	maxConns int
}

var _ store.Store = (*Store)(nil)

// Option changes how a Store is opened.
type Option func(*Store)

// WithClock makes the store take the time from c, for tests.
func WithClock(c clock.Clock) Option {
	return func(s *Store) { s.clock = c }
}

// WithMaxConns bounds the connections the store opens to PostgreSQL (the
// pool); 0 leaves the default (DefaultMaxConns). dirsync serve sizes it
// from its workers: each running sync uses a few at once.
func WithMaxConns(n int) Option {
	return func(s *Store) { s.maxConns = n }
}

// DefaultMaxConns is the PostgreSQL pool's size when no option sets it.
const DefaultMaxConns = 16

// Server-side limits a PostgreSQL session gets unless its URL sets them:
// a statement that runs longer than an apply of a large directory ever
// should is stopped, and so is a session left idle inside a transaction
// (a process stuck with locks held).
const (
	defaultStatementTimeout = "10min"
	defaultIdleInTxTimeout  = "5min"
	// An apply's temporary tables (sync_diff, sync_log) hold a whole
	// source's memberships at a first sync: in the session's memory, up to
	// this much (taken only as used), rather than the server's 8MB default
	// and temporary files.
	defaultTempBuffers = "128MB"
)

// WithSleeper replaces the wait between retries of a failed PostgreSQL
// transaction, for tests.
func WithSleeper(sleep func(context.Context, time.Duration) error) Option {
	return func(s *Store) { s.sleep = sleep }
}

// OpenSQLite opens (creating it and its parent directories if needed) the
// SQLite database at path and brings its schema up to date.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
		}
	}
	// The pragmas run on every new connection of the pool. synchronous=NORMAL
	// is safe from corruption in WAL mode; a power cut may lose the last
	// commits, never half of one. The page cache is per connection and
	// counts in the process's memory, several times over: SQLite sizes a
	// sort's buffers by it too, and a sync runs sorts and temporary
	// tables beside its caches on several connections. 8 MiB each keeps a
	// sync's peak memory flat (the operating system caches the file
	// besides): dirsync bench measured 117 MiB at 20,000 users and 127 MiB
	// at 100,000, against 172 and 187 MiB with 16 MiB, for no more CPU.
	// Temporary tables and sorts (a sync's membership differences, hundreds
	// of thousands of rows) go to temporary files, not to memory.
	dsn := "file:" + path +
		"?_pragma=foreign_keys(1)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=busy_timeout(30000)" +
		"&_pragma=cache_size(-8192)" +
		"&_pragma=temp_store(FILE)" +
		"&_txlock=immediate" +
		"&_time_format=sqlite"
	// The staging file holds what sources report of people: owner only,
	// as the directory's (SQLite gives its journal files the same mode).
	stagePath := path + "-stage"
	if f, err := os.OpenFile(stagePath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("sqlstore: create the staging database: %w", err)
	}
	db, err := openSQLiteDB(dsn, stagePath)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	s, err := open(ctx, db, sqliteFlavor, opts)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres connects to the PostgreSQL database dsn names (a URL or
// key=value string, as pgx accepts) and brings its schema up to date.
// The dsn is never part of an error, as it may hold a password.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's error shows the URL with its password masked.
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	for param, value := range map[string]string{"statement_timeout": defaultStatementTimeout,
		"idle_in_transaction_session_timeout": defaultIdleInTxTimeout, "temp_buffers": defaultTempBuffers} {
		if _, set := cfg.RuntimeParams[param]; !set {
			cfg.RuntimeParams[param] = value
		}
	}
	db := stdlib.OpenDB(*cfg)
	s, err := open(ctx, db, postgresFlavor, opts)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	return s, nil
}

func open(ctx context.Context, db *sql.DB, f *flavor, opts []Option) (*Store, error) {
	s := &Store{
		db:     db,
		flavor: f,
		clock:  clock.System,
		sleep:  sleepCtx,
		stmts:  map[string]*sql.Stmt{},
	}
	for _, o := range opts {
		o(s)
	}
	if f.name == "postgres" {
		n := cmp.Or(s.maxConns, DefaultMaxConns)
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
	if f.serializeWrites {
		s.writeSem = make(chan struct{}, 1)
	}
	s.reader = reader{c: &conn{q: db, f: f, s: s}}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.fillStaleWords(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Migrations come in two kinds. An expand migration only adds (a table, a
// column with a default, an index): a replica of the previous release keeps
// working beside it, so every replica applies the pending ones when it
// starts. A contract migration (its file name ends in contractSuffix)
// takes away what a release before the running one stopped using: it would
// break a replica of that earlier release still running, so on PostgreSQL it
// runs only when an operator asks (Contract), once every replica runs a
// release that no longer needs it. SQLite, one machine and one release,
// runs both kinds when it opens.
const contractSuffix = "_contract.sql"

func (s *Store) migrate(ctx context.Context) error {
	p, err := s.migrations(false)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// migrations is the goose provider of the store's migrations: on
// PostgreSQL the expand ones only, unless contract; the contract ones may
// then come after expand migrations of a later release already applied.
func (s *Store) migrations(contract bool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+s.flavor.name)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if s.flavor.name == "postgres" {
		// Two servers starting at once against one database take turns.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
		if contract {
			opts = append(opts, goose.WithAllowOutofOrder(true))
		} else if names, err := contractMigrations(fsys); err != nil {
			return nil, err
		} else if len(names) > 0 {
			opts = append(opts, goose.WithExcludeNames(names))
		}
	}
	p, err := goose.NewProvider(s.flavor.dialect, s.db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

func contractMigrations(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, "*"+contractSuffix)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return names, nil
}

// PendingContracts names the contract migrations not applied yet (none on
// SQLite, which applies them when it opens).
func (s *Store) PendingContracts(ctx context.Context) ([]string, error) {
	p, err := s.migrations(true)
	if err != nil {
		return nil, err
	}
	status, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []string
	for _, st := range status {
		if st.State == goose.StatePending && strings.HasSuffix(st.Source.Path, contractSuffix) {
			out = append(out, path.Base(st.Source.Path))
		}
	}
	return out, nil
}

// Contract applies the pending contract migrations and names them. Run it
// only once no replica of a release that used what they take away is left.
func (s *Store) Contract(ctx context.Context) ([]string, error) {
	pending, err := s.PendingContracts(ctx)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	p, err := s.migrations(true)
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	var applied []string
	for _, r := range res {
		if r.Error == nil {
			applied = append(applied, path.Base(r.Source.Path))
		}
	}
	if err != nil {
		return applied, fmt.Errorf("migrations: %w", err)
	}
	return applied, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.ckpt.close()
	s.stmtMu.Lock()
	for q, st := range s.stmts {
		st.Close()
		delete(s.stmts, q)
	}
	s.stmtMu.Unlock()
	return s.db.Close()
}

// retryBudget bounds how long Update waits in all between reruns of fn
// when PostgreSQL keeps aborting it for serialization failures or
// deadlocks. It is time, not a count of attempts: on a busy fleet (many
// replicas' heartbeats, claims and schedules beside an apply) twenty quick
// attempts were spent in under four seconds and a scheduled run failed
// with SQLSTATE 40001 although the next attempt would have committed.
const retryBudget = 30 * time.Second

// retryBackoff is the wait before attempt+1: exponential from 2 ms, capped
// at half a second, plus up to as much again of jitter so that the
// conflicting transactions do not meet again at the same moment.
func retryBackoff(attempt int) time.Duration {
	d := min(time.Duration(1<<min(attempt, 30))*time.Millisecond, 500*time.Millisecond)
	return d + rand.N(d)
}

// Update runs fn in one transaction, committing it when fn returns nil. An
// error, a panic (re-raised after the rollback) or a cancelled context
// rolls it back. On PostgreSQL a serialization failure or deadlock reruns
// fn from the start in a new transaction.
//
// fn must not call the Store's own writes (Update, the Stage calls,
// DropStage): on SQLite they queue behind the transaction fn runs in, and
// wait for it until their context ends. Reads through the Store are fine;
// they see the last commit, not fn's writes.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.updateOn(ctx, s.db, fn)
}

// beginner is what *sql.DB and *sql.Conn share: where a transaction begins.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// applyLockKey is the PostgreSQL advisory lock UpdateApply holds: "dirsync"
// in a number, apart from goose's migration lock.
const applyLockKey int64 = 0x64697273796e63

// UpdateApply is Update, one at a time across every process on the
// database. On PostgreSQL it takes a session advisory lock on a connection
// of its own before the transaction begins, so that the transaction's
// snapshot is taken after the previous apply committed; on SQLite Update
// serializes writers already.
func (s *Store) UpdateApply(ctx context.Context, fn func(store.Tx) error) error {
	if s.flavor.serializeWrites {
		return s.Update(ctx, fn)
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return s.unavailable(ctx, fmt.Errorf("sqlstore: apply: %w", err))
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, applyLockKey); err != nil {
		return s.unavailable(ctx, fmt.Errorf("sqlstore: wait for the other applies: %w", err))
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := c.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, applyLockKey); err != nil {
			// Never hand a connection that may hold the lock back to the
			// pool: closing it ends the session, and the lock with it.
			c.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return s.updateOn(ctx, c, func(t store.Tx) error {
		// An apply is one at a time across the fleet, and its set-wise
		// statements sort and hash a whole source's memberships: memory
		// for that, rather than temporary files.
		if _, err := t.(*tx).c.execOnce(ctx, `SET LOCAL work_mem = '`+applyWorkMem+`'`); err != nil {
			return err
		}
		return fn(t)
	})
}

// applyWorkMem is the memory each sort or hash of an apply may use on
// PostgreSQL before it spills to disk (the server's default is 4MB).
const applyWorkMem = "128MB"

// unavailable marks a lost connection as store.ErrUnavailable.
func (s *Store) unavailable(ctx context.Context, err error) error {
	if err != nil && ctx.Err() == nil && s.flavor.connLost(err) && !errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

func (s *Store) updateOn(ctx context.Context, b beginner, fn func(store.Tx) error) error {
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		err := s.update(ctx, b, fn)
		if uerr := s.unavailable(ctx, err); uerr != err {
			return uerr
		}
		if err == nil || !s.flavor.retryable(err) {
			return err
		}
		if waited >= retryBudget {
			return fmt.Errorf("sqlstore: still conflicting with concurrent transactions after %d attempts over %s: %w", attempt, waited.Round(time.Millisecond), err)
		}
		d := retryBackoff(attempt)
		waited += d
		if err := s.sleep(ctx, d); err != nil {
			return fmt.Errorf("sqlstore: update: %w", err)
		}
	}
}

func (s *Store) update(ctx context.Context, b beginner, fn func(store.Tx) error) (err error) {
	c, restore, err := s.noCheckpointConn(ctx, b)
	if err != nil {
		return err
	}
	if c != nil {
		defer restore()
		b = c
	}
	if db, ok := b.(*sql.DB); ok && s.flavor.pinConn {
		// The transaction's connection, held apart, can stream rows
		// with COPY (see copyRows).
		c, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("sqlstore: begin: %w", err)
		}
		defer c.Close()
		b = c
	}
	t, err := s.begin(ctx, b)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			t.rollback()
			panic(p)
		}
		if err != nil {
			t.rollback()
		}
	}()
	if err := fn(&tx{reader: reader{c: t}, c: t}); err != nil {
		return err
	}
	// fn may have swallowed a cancellation; a cancelled context never commits.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: update: %w", err)
	}
	return t.commit()
}

// Snapshot runs fn in a read-only transaction. On SQLite a read-only
// transaction begins DEFERRED (the driver's _txlock applies to writes
// only), and in WAL mode it reads one snapshot from its first read on
// without blocking the writer.
func (s *Store) Snapshot(ctx context.Context, fn func(store.Reader) error) error {
	sqlTx, err := s.db.BeginTx(ctx, s.flavor.snapshotOptions)
	if err != nil {
		return fmt.Errorf("sqlstore: begin snapshot: %w", err)
	}
	defer sqlTx.Rollback()
	return fn(reader{c: &conn{q: sqlTx, tx: sqlTx, f: s.flavor, s: s, stmts: map[string]*sql.Stmt{}}})
}

// begin starts a write transaction, after taking the in-process write
// semaphore where the flavor has one.
func (s *Store) begin(ctx context.Context, b beginner) (*conn, error) {
	if s.writeSem != nil {
		select {
		case s.writeSem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("sqlstore: begin: %w", ctx.Err())
		}
	}
	sqlTx, err := b.BeginTx(ctx, s.flavor.txOptions)
	if err != nil {
		s.release()
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	c := &conn{q: sqlTx, tx: sqlTx, f: s.flavor, s: s, stmts: map[string]*sql.Stmt{}}
	if s.flavor.pinConn {
		c.raw, _ = b.(*sql.Conn)
	}
	return c, nil
}

func (s *Store) release() {
	if s.writeSem != nil {
		<-s.writeSem
	}
}

// withTx runs fn in a write transaction, retrying like Update; the staging
// calls use it.
func (s *Store) withTx(ctx context.Context, fn func(c *conn) error) error {
	return s.Update(ctx, func(t store.Tx) error { return fn(t.(*tx).c) })
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// now is the store's clock in UTC to the microsecond, as both databases
// keep it.
func (s *Store) now() time.Time { return normTime(s.clock.Now()) }

func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// newID makes an id: a UUIDv7, which sorts by creation time.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// Only a failing random source gets here; v4 needs it too, so
		// nothing better can be done.
		panic(fmt.Sprintf("sqlstore: new id: %v", err))
	}
	return id.String()
}
