package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

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

// stageSchema creates the staging tables in the attached database, once
// when the store opens (a connection opened later, while a transaction
// holds the file, could not); the auto_vacuum mode must come before its
// first table, and it and WAL stay with the file.
var stageSchema = []string{
	`PRAGMA stage.auto_vacuum = FULL`,
	`PRAGMA stage.journal_mode = WAL`,
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
	for _, q := range stageSchema {
		if _, err := db.Exec(q); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlstore: staging database: %w", err)
		}
	}
	return db, nil
}
