package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/storetest"
)

func newSQLite(t testing.TB) *Store {
	t.Helper()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "sub", "dir", "dirsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store { return newSQLite(t) })
}

// postgresEnv names the PostgreSQL server the tests run against, as a DSN
// such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const postgresEnv = "DIRSYNC_TEST_POSTGRES"

var schemaSeq atomic.Int64

// newPostgres opens a store in a schema of its own, dropped afterwards, so
// tests never see each other's rows.
func newPostgres(t testing.TB) *Store {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		t.Skipf("%s is not set; set it to a PostgreSQL DSN (postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run", postgresEnv)
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
	s, err := OpenPostgres(t.Context(), withSearchPath(t, dsn, schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// withSearchPath sets the connections' search_path in the DSN, URL or
// key=value.
func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", postgresEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func TestPostgres(t *testing.T) {
	if os.Getenv(postgresEnv) == "" {
		t.Skipf("%s is not set; set it to a PostgreSQL DSN (postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run", postgresEnv)
	}
	storetest.RunTests(t, func(t *testing.T) store.Store { return newPostgres(t) })
}
