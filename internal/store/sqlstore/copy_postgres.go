package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// On PostgreSQL the bulk writes of a sync (staging what the source
// reported, creating a first sync's users and links, a run's changes)
// stream their rows with COPY, in the transaction: one round trip and no
// statement to plan per thousand rows, where multi-row INSERTs of a few
// hundred rows each cost a parse, a plan and thousands of parameters
// apiece. COPY needs the pgx connection under database/sql; write
// transactions on PostgreSQL run on a connection held apart for them
// (flavor.pinConn), which conn.raw is.

// canCopy reports whether the transaction can stream rows with COPY.
func (c *conn) canCopy() bool { return c.raw != nil && c.tx != nil && !c.ended }

// copyRows streams rows (values in the order of cols) into table, in the
// transaction.
func (c *conn) copyRows(ctx context.Context, table string, cols []string, rows [][]any) error {
	if !c.canCopy() {
		return fmt.Errorf("sqlstore: copy into %s: not in a PostgreSQL write transaction", table)
	}
	if len(rows) == 0 {
		return nil
	}
	return c.raw.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: copy into %s: the connection is a %T, not pgx's", table, dc)
		}
		n, err := pc.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		if err == nil && n != int64(len(rows)) {
			err = fmt.Errorf("copied %d rows of %d", n, len(rows))
		}
		if err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		return nil
	})
}

// upsertVia streams rows into table through a temporary table of the same
// columns, then moves them over with onConflict (an ON CONFLICT clause):
// COPY itself cannot say what becomes of a row that is already there.
func (c *conn) upsertVia(ctx context.Context, table string, cols []string, rows [][]any, onConflict string) error {
	if len(rows) == 0 {
		return nil
	}
	tmp := "copy_in_" + table
	list := strings.Join(cols, ", ")
	if _, err := c.execOnce(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+tmp+` (LIKE `+table+`) ON COMMIT DROP`); err != nil {
		return err
	}
	if err := c.copyRows(ctx, tmp, cols, rows); err != nil {
		return err
	}
	if _, err := c.execOnce(ctx, `INSERT INTO `+table+` (`+list+`) SELECT `+list+` FROM `+tmp+` `+onConflict); err != nil {
		return err
	}
	_, err := c.execOnce(ctx, `TRUNCATE `+tmp)
	return err
}

// stageRows writes a staging call's rows on PostgreSQL in a transaction of
// their own: by COPY straight into the table, and, should one of them be
// there already (a source object staged again, as a listing may report it
// on two pages), again through upsertVia. Staged rows serve the run that
// is going on only: a server crash that lost the last of them ends the
// run's connection too, and the run is retried, so the commits need not
// wait for the disk (synchronous_commit off).
func (s *Store) stageRows(ctx context.Context, table string, cols []string, rows [][]any, onConflict string) error {
	write := func(upsert bool) error {
		return s.withTx(ctx, func(c *conn) error {
			if _, err := c.execOnce(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
			if upsert {
				return c.upsertVia(ctx, table, cols, rows, onConflict)
			}
			return c.copyRows(ctx, table, cols, rows)
		})
	}
	err := write(false)
	if _, dup := s.flavor.uniqueViolation(err); dup {
		err = write(true)
	}
	return err
}

// growthAnalyzer refreshes the planner's statistics of tables a
// transaction fills, each time what it added doubles (from a thousand
// rows): the statistics of a first sync's empty users table would make
// every later lookup by username scan the account's users (ANALYZE counts
// the transaction's own rows).
type growthAnalyzer struct {
	added, next int
}

func (g *growthAnalyzer) add(ctx context.Context, c *conn, n int, tables ...string) error {
	if c.raw == nil {
		return nil
	}
	g.added += n
	if g.next == 0 {
		g.next = 1000
	}
	if g.added < g.next {
		return nil
	}
	g.next = 2 * g.added
	return c.f.analyze(ctx, c, tables...)
}

// copyEvents appends events with COPY, which cannot hand back the seqs the
// column's sequence would give: the seqs are drawn from that sequence
// first, in order, and written with the events. The feed's lock
// (lockFeed), which the caller holds, keeps them in commit order as the
// INSERT's would be.
func (c *conn) copyEvents(ctx context.Context, es []directory.Event) error {
	if len(es) == 0 {
		return nil
	}
	rows, err := c.queryOnce(ctx, `SELECT nextval(pg_get_serial_sequence('events', 'seq')) FROM generate_series(1, ?)`, len(es))
	if err != nil {
		return err
	}
	seqs := make([]int64, 0, len(es))
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return err
		}
		seqs = append(seqs, seq)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}
	if len(seqs) != len(es) {
		return fmt.Errorf("drew %d event seqs for %d events", len(seqs), len(es))
	}
	slices.Sort(seqs)
	data := make([][]any, len(es))
	for i := range es {
		data[i] = append([]any{seqs[i]}, eventRow(es[i])...)
	}
	cols := append([]string{"seq"}, strings.Split(eventCols, ", ")...)
	if err := c.copyRows(ctx, "events", cols, data); err != nil {
		return err
	}
	for i := range es {
		es[i].Seq = seqs[i]
	}
	return nil
}
