package sqlstore

import (
	"context"
	"fmt"
)

// On SQLite, a statement that writes many rows updates every index of its
// table row by row: at a random place in each index whose key the rows do
// not arrive in the order of. With a page cache far smaller than a
// 100,000-user directory's indexes, each such update reads a page the
// cache had evicted and spills one it had changed: a first sync wrote its
// users' words so in 17 s (user_words_word), its membership changes'
// user index and its memberships' member index as slowly. An index made
// at once sorts its keys and writes its pages in order, in a second or
// two. So a bulk write into a table that holds fewer rows than it adds
// drops the indexes named, writes, and makes them again from the SQL they
// were made with, in the same transaction, under a savepoint: an error
// rolls the drop and the write back to it (the transaction goes on as
// before the call), a crash rolls back everything, other connections read
// their snapshot (indexes included) meanwhile, and a unique index made
// again fails as the write it no longer checked would have.

// bulkIndex names indexes of a table that a bulk write of incoming rows
// may drop and make again.
type bulkIndex struct {
	table    string
	incoming int64
	indexes  []string
}

// bulkIndexMin is the fewest rows a write must add for its indexes to be
// dropped: below, making them again costs more than it saves.
var bulkIndexMin int64 = 20000

// withoutIndexes runs write with the indexes of each table that write adds
// more rows to than the table holds dropped, and makes them again after.
// Only SQLite drops anything; write runs as is on PostgreSQL.
func withoutIndexes(ctx context.Context, c *conn, bulk []bulkIndex, write func() error) error {
	if c.f.name != "sqlite" {
		return write()
	}
	if _, err := c.execOnce(ctx, `SAVEPOINT bulk_index`); err != nil {
		return err
	}
	err := dropAndWrite(ctx, c, bulk, write)
	if err != nil {
		if _, rerr := c.execOnce(ctx, `ROLLBACK TO bulk_index`); rerr != nil {
			return fmt.Errorf("%w (and rolling back to before it: %v)", err, rerr)
		}
	}
	if _, rerr := c.execOnce(ctx, `RELEASE bulk_index`); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// dropAndWrite is withoutIndexes under its savepoint.
func dropAndWrite(ctx context.Context, c *conn, bulk []bulkIndex, write func() error) error {
	var remake []string
	for _, b := range bulk {
		if b.incoming < bulkIndexMin {
			continue
		}
		// Counting stops at incoming: the cost is the write's at most.
		var held int64
		if err := c.row(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM `+b.table+` LIMIT ?)`, b.incoming).Scan(&held); err != nil {
			return fmt.Errorf("count %s: %w", b.table, err)
		}
		if held >= b.incoming {
			continue
		}
		for _, name := range b.indexes {
			var ddl string
			err := c.row(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ? AND tbl_name = ?`, name, b.table).Scan(&ddl)
			if err != nil {
				return fmt.Errorf("index %s: %w", name, err)
			}
			if _, err := c.execOnce(ctx, `DROP INDEX `+name); err != nil {
				return fmt.Errorf("drop index %s: %w", name, err)
			}
			remake = append(remake, ddl)
		}
	}
	if err := write(); err != nil {
		return err // the rollback to the savepoint brings the indexes back
	}
	for _, ddl := range remake {
		if _, err := c.execOnce(ctx, ddl); err != nil {
			return fmt.Errorf("make index again: %w", err)
		}
	}
	return nil
}
