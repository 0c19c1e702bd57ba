package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"strings"

	"modernc.org/sqlite"
)

// On SQLite the staging tables live in a database of their own, a file
// beside the directory's ("PATH-stage"), attached to every connection as
// "stage". A full run stages the whole source and drops it when it ends:
// in the directory's file that left the space free (189 MiB at 100,000
// users), never given back, a file as large as the largest run had made
// it. The staging file is in auto_vacuum=FULL mode, so each commit that
// deletes staged rows gives their pages back to the file system, and the
// directory's file holds only the directory. Unqualified table names find
// the staging tables, since SQLite looks in main, then in the attached
// databases.
//
// A transaction that writes both (an apply drops its staging as it
// commits) is atomic in each file, not across them: a crash between the two
// leaves staged rows behind, which the source's next lease drops, as it
// drops a crashed run's.

// stagePragmas come first: the auto_vacuum mode must come before the
// file's first table, and it and WAL stay with the file.
var stagePragmas = []string{
	`PRAGMA stage.auto_vacuum = FULL`,
	`PRAGMA stage.journal_mode = WAL`,
}

// stageSchema creates the staging tables in the attached database, once
// when the store opens (a connection opened later, while a transaction
// holds the file, could not).
var stageSchema = []string{
	`CREATE TABLE IF NOT EXISTS stage.staged_users (
		run_id TEXT NOT NULL, external_id TEXT NOT NULL, data TEXT NOT NULL,
		PRIMARY KEY (run_id, external_id))`,
	`CREATE TABLE IF NOT EXISTS stage.staged_groups (
		run_id TEXT NOT NULL, external_id TEXT NOT NULL, data TEXT NOT NULL,
		PRIMARY KEY (run_id, external_id))`,
	`CREATE TABLE IF NOT EXISTS stage.staged_memberships (
		run_id TEXT NOT NULL, group_ext TEXT NOT NULL, member_kind TEXT NOT NULL, member_ext TEXT NOT NULL,
		PRIMARY KEY (run_id, group_ext, member_kind, member_ext))`,
	prepSchema,
	prepWordsSchema,
}

// stageConnector opens the store's SQLite connections, each with the
// staging database attached.
type stageConnector struct {
	drv       *sqlite.Driver
	dsn       string
	stagePath string
}

var _ driver.Connector = stageConnector{}

func (c stageConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: the sqlite driver cannot execute statements on a connection")
	}
	if _, err := ex.ExecContext(ctx, `ATTACH DATABASE ? AS stage`, []driver.NamedValue{{Ordinal: 1, Value: c.stagePath}}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: attach the staging database: %w", err)
	}
	if _, err := ex.ExecContext(ctx, `PRAGMA stage.synchronous = NORMAL`, nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlstore: staging database: %w", err)
	}
	return conn, nil
}

func (c stageConnector) Driver() driver.Driver { return c.drv }

// openSQLiteDB opens the pool of connections to the database at dsn with
// the staging database at stagePath attached to each, through the driver
// registered as "sqlite" (with whatever is registered on it).
func openSQLiteDB(dsn, stagePath string) (*sql.DB, error) {
	reg, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, err
	}
	drv, ok := reg.Driver().(*sqlite.Driver)
	reg.Close()
	if !ok {
		return nil, fmt.Errorf("sqlstore: the driver registered as sqlite is a %T", reg.Driver())
	}
	db := sql.OpenDB(stageConnector{drv: drv, dsn: dsn, stagePath: stagePath})
	if err := createStageSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: staging database: %w", err)
	}
	return db, nil
}

// stageSchemaVersion names stageSchema's text. The staging file has no
// migrations: it holds only what runs in progress staged, and CREATE TABLE
// IF NOT EXISTS would keep a previous release's tables as they were (a
// prep_users without a column users gained since, and every full run
// would fail on it). So the file's user_version records the schema it was
// made with, and a file made with another is emptied and made again.
func stageSchemaVersion() int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.Join(stageSchema, ";")))
	return int64(h.Sum32() & 0x7fffffff)
}

// createStageSchema makes the staging tables as this release writes them,
// dropping those of a file made with another schema: a run of another
// process staging in it then fails, and is retried (its source's lease
// drops its staging in any case).
func createStageSchema(db *sql.DB) error {
	for _, q := range stagePragmas {
		if _, err := db.Exec(q); err != nil {
			return err
		}
	}
	var have int64
	if err := db.QueryRow(`PRAGMA stage.user_version`).Scan(&have); err != nil {
		return err
	}
	want := stageSchemaVersion()
	if have == want {
		return nil
	}
	for _, t := range stageTables(sqliteFlavor) {
		if _, err := db.Exec(`DROP TABLE IF EXISTS stage.` + t); err != nil {
			return err
		}
	}
	for _, q := range stageSchema {
		if _, err := db.Exec(q); err != nil {
			return err
		}
	}
	_, err := db.Exec(fmt.Sprintf(`PRAGMA stage.user_version = %d`, want))
	return err
}
