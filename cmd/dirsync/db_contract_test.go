package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

// TestDBContract: on PostgreSQL the contract migrations wait for "dirsync
// db contract", which applies them once; on SQLite they ran when the
// database opened.
func TestDBContract(t *testing.T) {
	e := newEnv(t)
	run := func(db string, args ...string) []string {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"--db", db, "db", "contract", "--json"}, args...)...)
		cmd.Env = e.env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("db contract %v: %v\n%s", args, err, out)
		}
		var res map[string][]string
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, v := range res {
			return v
		}
		t.Fatalf("db contract %v printed %s", args, out)
		return nil
	}
	e.ok("account", "create", "acme")
	if got := run(e.db, "--dry-run"); len(got) != 0 {
		t.Errorf("SQLite: pending contracts %v", got)
	}
	if os.Getenv(sqltest.PostgresEnv) == "" {
		t.Skipf("%s is not set: PostgreSQL's half skipped", sqltest.PostgresEnv)
	}
	dsn := sqltest.PostgresDSN(t)
	want := []string{"00020_mail_notifications_contract.sql"}
	if got := run(dsn, "--dry-run"); !slices.Equal(got, want) {
		t.Fatalf("PostgreSQL: pending %v, want %v", got, want)
	}
	if got := run(dsn); !slices.Equal(got, want) {
		t.Fatalf("PostgreSQL: applied %v, want %v", got, want)
	}
	if got := run(dsn, "--dry-run"); len(got) != 0 {
		t.Fatalf("PostgreSQL: pending after the contract %v", got)
	}
	if got := run(dsn); len(got) != 0 {
		t.Fatalf("PostgreSQL: a second contract applied %v", got)
	}
}
