package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/dirsync/dirsync/internal/store"
)

// "One domain, one source": the claims on directories (store/claims.go).

func (r reader) DomainClaims(ctx context.Context) ([]store.DomainClaim, error) {
	rows, err := r.c.query(ctx, `SELECT claim_key, account_id, source_id, names, claimed_at FROM domain_claims ORDER BY claim_key`)
	if err != nil {
		return nil, wrap(err, r.c.f, "domain claims")
	}
	defer rows.Close()
	var out []store.DomainClaim
	for rows.Next() {
		var c store.DomainClaim
		var names string
		if err := rows.Scan(&c.Key, &c.AccountID, &c.SourceID, &names, nullTime{&c.ClaimedAt}); err != nil {
			return nil, wrap(err, r.c.f, "domain claims")
		}
		if names != "" {
			c.Names = strings.Split(names, "\n")
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), r.c.f, "domain claims")
}

// SetDomainClaim inserts without ever breaking the key's uniqueness (a
// broken rule would abort a PostgreSQL transaction): ON CONFLICT DO
// NOTHING waits for a concurrent claim of the same key to commit, and the
// row then says who holds it.
func (t *tx) SetDomainClaim(ctx context.Context, c store.DomainClaim) error {
	what := fmt.Sprintf("claim %q for source %q", c.Key, c.SourceID)
	if _, err := t.c.exec(ctx, `DELETE FROM domain_claims WHERE source_id = ? AND claim_key <> ?`, c.SourceID, c.Key); err != nil {
		return wrap(err, t.c.f, "%s", what)
	}
	names := strings.Join(c.Names, "\n")
	if _, err := t.c.exec(ctx, `INSERT INTO domain_claims (claim_key, account_id, source_id, names, claimed_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (claim_key) DO NOTHING`, c.Key, c.AccountID, c.SourceID, names, timeArg(c.ClaimedAt)); err != nil {
		return wrap(err, t.c.f, "%s", what)
	}
	var holder string
	if err := t.c.row(ctx, `SELECT source_id FROM domain_claims WHERE claim_key = ?`, c.Key).Scan(&holder); err != nil {
		return wrap(err, t.c.f, "%s", what)
	}
	if holder != c.SourceID {
		return fmt.Errorf("sqlstore: %s: held by source %q: %w", what, holder, store.ErrAlreadyExists)
	}
	_, err := t.c.exec(ctx, `UPDATE domain_claims SET names = ? WHERE claim_key = ?`, names, c.Key)
	return wrap(err, t.c.f, "%s", what)
}

func (t *tx) ReleaseDomainClaim(ctx context.Context, sourceID string) error {
	_, err := t.c.exec(ctx, `DELETE FROM domain_claims WHERE source_id = ?`, sourceID)
	return wrap(err, t.c.f, "release the claim of source %q", sourceID)
}

// sealedColumns are the columns that hold values sealed under the master
// key, by table and id column.
var sealedColumns = []struct{ table, id, col string }{
	{"sources", "id", "secret"},
	{"webhooks", "id", "secret"},
	{"targets", "id", "secret"},
	{"mail_outbox", "id", "body"},
}

// ResealSecrets pages through each sealed column by id, so memory holds a
// page however many mails the outbox keeps.
func (t *tx) ResealSecrets(ctx context.Context, reseal func([]byte) ([]byte, error)) (int, error) {
	const page = 500
	n := 0
	for _, c := range sealedColumns {
		after := ""
		for {
			type row struct {
				id     string
				sealed []byte
			}
			var rows []row
			q := fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s > ? AND %s IS NOT NULL ORDER BY %s LIMIT %d`, c.id, c.col, c.table, c.id, c.col, c.id, page)
			rs, err := t.c.query(ctx, q, after)
			if err != nil {
				return n, wrap(err, t.c.f, "read %s.%s", c.table, c.col)
			}
			for rs.Next() {
				var r row
				if err := rs.Scan(&r.id, &r.sealed); err != nil {
					rs.Close()
					return n, wrap(err, t.c.f, "read %s.%s", c.table, c.col)
				}
				rows = append(rows, r)
			}
			rs.Close()
			if err := rs.Err(); err != nil {
				return n, wrap(err, t.c.f, "read %s.%s", c.table, c.col)
			}
			for _, r := range rows {
				if len(r.sealed) == 0 {
					continue
				}
				out, err := reseal(r.sealed)
				if err != nil {
					return n, fmt.Errorf("sqlstore: reseal %s.%s of %q: %w", c.table, c.col, r.id, err)
				}
				if _, err := t.c.exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = ? WHERE %s = ?`, c.table, c.col, c.id), out, r.id); err != nil {
					return n, wrap(err, t.c.f, "reseal %s.%s of %q", c.table, c.col, r.id)
				}
				n++
			}
			if len(rows) < page {
				break
			}
			after = rows[len(rows)-1].id
		}
	}
	return n, nil
}
