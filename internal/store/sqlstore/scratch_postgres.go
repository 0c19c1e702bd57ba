package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// ScratchPostgres is an empty database made beside another on the same
// PostgreSQL server, for a measurement that must start from nothing
// (dirsync bench) and must not touch the database it was pointed at.
type ScratchPostgres struct {
	// URL opens the scratch database: the URL it was made from, naming
	// the new database instead.
	URL   string
	name  string
	admin *sql.DB
}

// CreateScratchPostgres creates the database prefix_RANDOM on the server the
// postgres:// URL dsn names, connecting as dsn says (the role needs
// CREATEDB). Drop removes it.
func CreateScratchPostgres(ctx context.Context, dsn, prefix string) (*ScratchPostgres, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("sqlstore: a scratch database needs a postgres:// URL")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: scratch database: %w", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	admin := stdlib.OpenDB(*cfg)
	admin.SetMaxOpenConns(1)
	// CREATE DATABASE takes no parameters; the name is ours, made of
	// [a-z0-9_].
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("sqlstore: create the scratch database %s (the role needs CREATEDB): %w", name, err)
	}
	u.Path = "/" + name
	return &ScratchPostgres{URL: u.String(), name: name, admin: admin}, nil
}

// Name is the scratch database's name.
func (d *ScratchPostgres) Name() string { return d.name }

// Size is the database's size on disk, in bytes.
func (d *ScratchPostgres) Size(ctx context.Context) (int64, error) {
	var n int64
	err := d.admin.QueryRowContext(ctx, `SELECT pg_database_size($1)`, d.name).Scan(&n)
	return n, err
}

// Backends lists the process ids of the server's sessions on the
// database, which the server's own CPU time can be read from where it runs
// on the same machine.
func (d *ScratchPostgres) Backends(ctx context.Context) ([]int, error) {
	rows, err := d.admin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, d.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	return pids, rows.Err()
}

// Drop removes the database, ending the sessions still on it.
func (d *ScratchPostgres) Drop(ctx context.Context) error {
	defer d.admin.Close()
	_, err := d.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+d.name+` WITH (FORCE)`)
	if err != nil && strings.Contains(err.Error(), "syntax error") {
		// Before PostgreSQL 13: no FORCE; the store is closed by now.
		_, err = d.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+d.name)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: drop the scratch database %s: %w", d.name, err)
	}
	return nil
}
