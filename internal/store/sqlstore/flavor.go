package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// flavor is what differs between the SQL databases the store runs on.
type flavor struct {
	name    string // also the migrations directory
	dialect goose.Dialect
	// rebind turns the ? placeholders the queries are written with into
	// the database's own.
	rebind func(string) string
	// serializeWrites queues writers inside the process: SQLite has one
	// writer at a time, and waiting on a semaphore beats polling its lock.
	serializeWrites bool
	txOptions       *sql.TxOptions
	// snapshotOptions begin a read-only transaction over one snapshot.
	snapshotOptions *sql.TxOptions
	// uniqueViolation reports whether err broke a uniqueness rule, and a
	// text naming the index or columns involved.
	uniqueViolation func(err error) (string, bool)
	foreignKey      func(err error) bool
	// retryable reports whether a transaction that failed with err can run
	// again from the start with a fair chance of success.
	retryable func(err error) bool
	// analyze refreshes the planner's statistics of tables a big statement
	// is about to read, where the planner needs them.
	analyze func(ctx context.Context, c *conn, tables ...string) error
	// connLost reports whether err means the connection to the database
	// was lost or refused for now: the transaction did not commit, and may
	// succeed on another connection later.
	connLost func(err error) bool
	// skipLocked ends a subquery that picks rows to claim: PostgreSQL's
	// FOR UPDATE SKIP LOCKED; SQLite has one writer and needs nothing.
	skipLocked string
	// createDiff creates SyncMemberships' temporary table, gone at the
	// latest when the transaction ends.
	createDiff string
	// createLog creates the table logDiff numbers sync_diff's rows in, and
	// fillLog fills it, numbered from 1 in sync_diff's key order.
	createLog, fillLog string
	// jsonObject builds a JSON object from its arguments (key, value,
	// key, value...), values from other jsonObject calls nesting; jsonText
	// makes one text to store.
	jsonObject func(args ...string) string
	jsonText   func(expr string) string
	// sortInserts orders the rows the set-wise statements of
	// SyncMemberships insert by the target's primary key: PostgreSQL's
	// B-trees then fill page after page instead of at random.
	sortInserts bool
	// pinConn runs each write transaction on a connection taken from the
	// pool for it, which COPY reaches (PostgreSQL; see copyRows).
	pinConn bool
	// lockFeed keeps appends to an account's event feed in a line until the
	// transaction ends, where the database does not already (see AppendEvents).
	lockFeed func(ctx context.Context, c *conn, accountID string) error
}

var sqliteFlavor = &flavor{
	name:            "sqlite",
	dialect:         goose.DialectSQLite3,
	rebind:          func(q string) string { return q },
	serializeWrites: true,
	snapshotOptions: &sql.TxOptions{ReadOnly: true},
	uniqueViolation: func(err error) (string, bool) {
		var e *sqlite.Error
		if errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			// "UNIQUE constraint failed: users.account_id, users.username_key"
			return e.Error(), true
		}
		return "", false
	},
	foreignKey: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
	// The semaphore and BEGIN IMMEDIATE leave nothing to retry: a busy
	// database waits out busy_timeout and then fails for good.
	retryable: func(error) bool { return false },
	// An embedded database has no connection to lose.
	connLost: func(error) bool { return false },
	// SQLite's planner does well enough without statistics on these
	// queries (the CROSS JOINs fix the order where it matters).
	analyze: func(context.Context, *conn, ...string) error { return nil },
	// A rollback takes the table away with the rest; a commit does not,
	// and SyncMemberships drops it.
	createDiff: `CREATE TEMP TABLE IF NOT EXISTS sync_diff (
		added INTEGER NOT NULL, group_id TEXT NOT NULL, member_kind TEXT NOT NULL, member_id TEXT NOT NULL,
		PRIMARY KEY (added, group_id, member_kind, member_id))`,
	// Rows inserted into an empty table get rowids 1, 2... in the order the
	// SELECT yields them, here sync_diff's primary key's: no sort, no window.
	createLog: `CREATE TEMP TABLE IF NOT EXISTS sync_log (seq INTEGER PRIMARY KEY,
		added INTEGER NOT NULL, group_id TEXT NOT NULL, member_kind TEXT NOT NULL, member_id TEXT NOT NULL)`,
	fillLog: `INSERT INTO sync_log (added, group_id, member_kind, member_id)
		SELECT added, group_id, member_kind, member_id FROM sync_diff ORDER BY added, group_id, member_kind, member_id`,
	// SQLite nests an object made by json_object as an object, not a string.
	jsonObject: func(args ...string) string { return `json_object(` + strings.Join(args, ", ") + `)` },
	jsonText:   func(expr string) string { return expr },
	lockFeed:   func(context.Context, *conn, string) error { return nil },
}

// PostgreSQL error codes the store acts on.
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

var postgresFlavor = &flavor{
	name:        "postgres",
	skipLocked:  " FOR UPDATE SKIP LOCKED",
	dialect:     goose.DialectPostgres,
	pinConn:     true,
	sortInserts: true,
	rebind:      rebindDollar,
	txOptions:   &sql.TxOptions{Isolation: sql.LevelSerializable},
	// A read-only REPEATABLE READ transaction sees one snapshot and never
	// fails to serialize.
	snapshotOptions: &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	uniqueViolation: func(err error) (string, bool) {
		var e *pgconn.PgError
		if errors.As(err, &e) && e.Code == pgUniqueViolation {
			return e.TableName + " " + e.ConstraintName, true
		}
		return "", false
	},
	foreignKey: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == pgForeignKeyViolation
	},
	retryable: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && (e.Code == pgSerializationFailure || e.Code == pgDeadlockDetected)
	},
	connLost: pgConnLost,
	analyze: func(ctx context.Context, c *conn, tables ...string) error {
		_, err := c.execOnce(ctx, `ANALYZE `+strings.Join(tables, ", "))
		return err
	},
	createDiff: `CREATE TEMP TABLE IF NOT EXISTS sync_diff (
		added INTEGER NOT NULL, group_id TEXT COLLATE "C" NOT NULL, member_kind TEXT COLLATE "C" NOT NULL,
		member_id TEXT COLLATE "C" NOT NULL,
		PRIMARY KEY (added, group_id, member_kind, member_id)) ON COMMIT DROP`,
	createLog: `CREATE TEMP TABLE IF NOT EXISTS sync_log (seq BIGINT PRIMARY KEY,
		added INTEGER NOT NULL, group_id TEXT COLLATE "C" NOT NULL, member_kind TEXT COLLATE "C" NOT NULL,
		member_id TEXT COLLATE "C" NOT NULL) ON COMMIT DROP`,
	fillLog: `INSERT INTO sync_log SELECT ROW_NUMBER() OVER (ORDER BY added, group_id, member_kind, member_id),
		added, group_id, member_kind, member_id FROM sync_diff`,
	// json, not jsonb: the keys keep their order, as Go writes them.
	jsonObject: func(args ...string) string { return `json_build_object(` + strings.Join(args, ", ") + `)` },
	jsonText:   func(expr string) string { return `(` + expr + `)::text` },
	lockFeed: func(ctx context.Context, c *conn, accountID string) error {
		_, err := c.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, "events:"+accountID)
		return err
	},
}

// pgConnLost: a connection exception (class 08), the server shutting down
// or the backend terminated by an administrator (57P01-57P03, as
// pg_terminate_backend does), too many connections (53300), or the
// connection failing under the driver.
func pgConnLost(err error) bool {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return strings.HasPrefix(e.Code, "08") || strings.HasPrefix(e.Code, "57P") || e.Code == "53300"
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &ne) || pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed")
}

var rebound sync.Map // query with ? -> query with $n

// rebindDollar numbers the ? placeholders as $1, $2... The queries have no
// ? inside string literals.
func rebindDollar(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	r := b.String()
	// Only the fixed queries are worth keeping; long generated ones (multi-row
	// inserts) come in few sizes, but are large.
	if len(q) < 4096 {
		rebound.Store(q, r)
	}
	return r
}
