// Package sqltest gives tests a PostgreSQL database of their own: a schema
// created for the test and dropped after it, on the server that
// DIRSYNC_TEST_POSTGRES names. Tests without that variable are skipped,
// saying how to run them.
package sqltest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// PostgresEnv names the PostgreSQL server the tests run against, as a DSN
// such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresEnv = "DIRSYNC_TEST_POSTGRES"

var schemaSeq atomic.Int64

// PostgresDSN creates a schema for the test, arranges for it to be dropped
// when the test ends, and returns a DSN whose connections use it. It skips
// the test when PostgresEnv is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skipf("%s is not set; set it to a PostgreSQL DSN (postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run", PostgresEnv)
	}
	schema := fmt.Sprintf("dirsync_test_%d_%d", os.Getpid(), schemaSeq.Add(1))
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

// withSearchPath sets the connections' search_path in the DSN, URL or
// key=value.
func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", PostgresEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
