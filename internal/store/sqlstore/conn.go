package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/store"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs queries on the database or in one transaction. Every query
// goes through it: it rebinds placeholders and keeps prepared statements,
// since an apply runs the same few statements a hundred thousand times.
type conn struct {
	q  querier
	tx *sql.Tx // nil outside a transaction
	f  *flavor
	s  *Store
	// stmts are the transaction's statements, made from the store's.
	stmts map[string]*sql.Stmt
	// raw is the connection a PostgreSQL write transaction runs on, for
	// COPY (nil elsewhere).
	raw *sql.Conn
	// usersAdded keeps the statistics of the users a transaction creates
	// in bulk fresh (PostgreSQL).
	usersAdded growthAnalyzer
	// seen holds the accounts this transaction found to exist.
	seen  map[string]bool
	ended bool
}

// stmt returns a prepared statement for the query (written with ?).
func (c *conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.tx != nil {
		if st, ok := c.stmts[query]; ok {
			return st, nil
		}
	}
	s := c.s
	s.stmtMu.Lock()
	st, ok := s.stmts[query]
	s.stmtMu.Unlock()
	if !ok {
		var err error
		// Prepared on the pool, not on the transaction: the statement
		// then outlives it, and the next transaction on the same
		// connection reuses it.
		st, err = s.db.PrepareContext(ctx, c.f.rebind(query))
		if err != nil {
			return nil, err
		}
		s.stmtMu.Lock()
		if prev, ok := s.stmts[query]; ok {
			st.Close()
			st = prev
		} else {
			s.stmts[query] = st
		}
		s.stmtMu.Unlock()
	}
	if c.tx != nil {
		st = c.tx.StmtContext(ctx, st)
		c.stmts[query] = st
	}
	return st, nil
}

// exec runs a fixed statement.
func (c *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.ended {
		return nil, sql.ErrTxDone
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// execOnce runs a generated statement without preparing it for reuse.
func (c *conn) execOnce(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.ended {
		return nil, sql.ErrTxDone
	}
	return c.q.ExecContext(ctx, c.f.rebind(query), args...)
}

// query runs a fixed query. The caller reads all rows and closes them
// before its next statement: pgx cannot run a statement while a result is
// open on the connection.
func (c *conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.ended {
		return nil, sql.ErrTxDone
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryOnce runs a generated query without preparing it for reuse.
func (c *conn) queryOnce(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.ended {
		return nil, sql.ErrTxDone
	}
	return c.q.QueryContext(ctx, c.f.rebind(query), args...)
}

// row runs a fixed query for one row.
func (c *conn) row(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil || c.ended {
		// A failed prepare still has to come out of Scan: run the query
		// unprepared, which reports the same error.
		return c.q.QueryRowContext(ctx, c.f.rebind(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *conn) commit() error {
	if c.ended {
		return sql.ErrTxDone
	}
	c.ended = true
	defer c.s.release()
	if err := c.tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

func (c *conn) rollback() {
	if c.ended {
		return
	}
	c.ended = true
	defer c.s.release()
	c.tx.Rollback()
}

// wrap adds context to a database error and maps the errors the store
// promises: a broken uniqueness rule is store.ErrAlreadyExists, a missing
// row or a reference to one is store.ErrNotFound.
func wrap(err error, f *flavor, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: %s: %w", what, store.ErrNotFound)
	case f.foreignKey(err):
		return fmt.Errorf("sqlstore: %s: refers to a missing object: %w", what, store.ErrNotFound)
	case f.connLost(err) && !errors.Is(err, store.ErrUnavailable):
		return fmt.Errorf("sqlstore: %s: %w: %w", what, store.ErrUnavailable, err)
	}
	if detail, ok := f.uniqueViolation(err); ok {
		return fmt.Errorf("sqlstore: %s: %s: %w", what, uniqueField(detail), store.ErrAlreadyExists)
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

// uniqueField names the field of a uniqueness violation from the index or
// column names the database reports.
func uniqueField(detail string) string {
	switch {
	case strings.Contains(detail, "username"):
		return "username taken"
	case strings.Contains(detail, "email"):
		return "email taken"
	case strings.Contains(detail, "name_key"):
		return "name taken"
	case strings.Contains(detail, "links"):
		return "source object already linked"
	case strings.Contains(detail, "slot"):
		return "the scheduled slot has a run already"
	}
	return "duplicate"
}

// nullTime scans a nullable timestamp, whether the driver hands it over as
// a time or as text.
type nullTime struct{ t *time.Time }

func (n nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.t = time.Time{}
	case time.Time:
		*n.t = normTime(v)
	case string:
		return n.parse(v)
	case []byte:
		return n.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

var timeFormats = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	time.RFC3339Nano,
}

func (n nullTime) parse(s string) error {
	for _, f := range timeFormats {
		if t, err := time.Parse(f, s); err == nil {
			*n.t = normTime(t)
			return nil
		}
	}
	return fmt.Errorf("sqlstore: cannot parse time %q", s)
}

// timeArg is a time as a query argument: NULL when zero.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return normTime(t)
}

// scanner is a row, or rows, being read.
type scanner = interface{ Scan(...any) error }

// collect runs q and returns every row scanned by scan (an empty slice for
// none); what names the rows in errors.
func collect[T any](ctx context.Context, c *conn, what string, scan func(scanner, *T) error, q string, args ...any) ([]T, error) {
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, c.f, "%s", what)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, wrap(err, c.f, "%s", what)
		}
		out = append(out, v)
	}
	return out, wrap(rows.Err(), c.f, "%s", what)
}
