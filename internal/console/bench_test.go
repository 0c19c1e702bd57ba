package console_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/console"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/factory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/store/sqlstore/sqltest"
)

var (
	benchUsers    = flag.Int("bench.users", 100_000, "users in BenchmarkRender's directory")
	benchPostgres = flag.Bool("bench.postgres", false, "BenchmarkRender on PostgreSQL ("+sqltest.PostgresEnv+", a schema of its own) instead of SQLite")
)

// BenchmarkRender measures the server time of the console's pages over a
// directory of 100,000 users (SQLite): the handler from the session check
// to the last byte, as a browser's request gets it, without the network.
// One op is one page; ms/op (wall) and cpu-ms/op (this process's CPU
// time, all its goroutines) are reported beside ns/op.
//
//	go test ./internal/console -run '^$' -bench Render -benchtime 20x
func BenchmarkRender(b *testing.B) {
	b.Setenv("DIRSYNC_MASTER_KEY", "")
	ctx := context.Background()
	db := filepath.Join(b.TempDir(), "bench.db")
	if *benchPostgres {
		db = sqltest.PostgresDSN(b)
	}
	parts, err := factory.Open(ctx, factory.Options{DB: db})
	if err != nil {
		b.Fatal(err)
	}
	defer parts.Close()
	m := parts.Manager
	op, err := m.Operator(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	name := "contoso"
	cfg := []byte(`{"tenant":"contoso.onmicrosoft.com","client_id":"00000000-0000-0000-0000-000000000001","cloud":"global","auth_method":"secret"}`)
	src, err := m.AddSource(ctx, op, manage.SourceInput{Name: &name, Kind: directory.KindEntra, Config: cfg, Secret: []byte("s3cret-value")})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	fillDirectory(b, parts.Store, op.AccountID, src.ID, *benchUsers)
	b.Logf("%d users stored in %v", *benchUsers, time.Since(start).Round(time.Millisecond))
	if *benchPostgres {
		// What autovacuum does soon after a load this size: the planner's
		// statistics of the tables just filled.
		conn, err := sql.Open("pgx", db)
		if err != nil {
			b.Fatal(err)
		}
		_, err = conn.ExecContext(ctx, "ANALYZE")
		conn.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := m.CreateConsoleUser(ctx, op, manage.ConsoleUserInput{Email: ownerEmail, Role: "owner", Password: []byte(testPassword)}); err != nil {
		b.Fatal(err)
	}
	ns, err := m.SignIn(ctx, ownerEmail, []byte(testPassword), "bench")
	if err != nil {
		b.Fatal(err)
	}
	h := console.Must(m, nil).Handler()
	half, err := m.Users(ctx, op, manage.UserQuery{Limit: *benchUsers / 2})
	if err != nil {
		b.Fatal(err)
	}
	some := half.Items[len(half.Items)-1]
	fillHistory(b, parts.Store, op.AccountID, src.ID, some, 40)
	pages := []struct{ name, path string }{
		{"overview", "/"},
		{"users-first-page", "/users"},
		{"users-middle-page", "/users?after=" + half.Next},
		{"users-search", "/users?q=user-077"},
		{"users-search-no-match", "/users?q=nobody-at-all"},
		{"users-search-two-words", "/users?q=077+user"},
		{"users-search-everyone", "/users?q=contoso"},
		{"users-search-last-tenth", "/users?q=user-09"},
		{"users-tag", "/users?tag=night"},
		{"user", "/users/" + some.ID},
		{"source", "/sources/contoso"},
		{"groups", "/groups"},
		{"trash", "/trash"},
		{"runs", "/runs"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			cpu := cpuTime()
			for range b.N {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.AddCookie(&http.Cookie{Name: "dirsync_session", Value: ns.Token})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", p.path, rec.Code, rec.Body.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			// CPU time tells more than wall time on a loaded machine.
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the CPU time this process used so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillDirectory stores n users linked to the source, one in a hundred
// tagged, a thousand at a time.
func fillDirectory(b *testing.B, st store.Store, accountID, sourceID string, n int) {
	ctx := context.Background()
	// The import that created them, a change per user: the history the
	// user's page reads is found among them.
	imp := directory.Run{AccountID: accountID, SourceID: sourceID, Source: "contoso", Kind: directory.RunFull,
		Outcome: directory.OutcomeSucceeded, FinishedAt: time.Now()}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateRun(ctx, &imp) }); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; {
		err := st.Update(ctx, func(tx store.Tx) error {
			var created []directory.Change
			for end := min(i+1000, n); i < end; i++ {
				u := directory.User{AccountID: accountID, Enabled: true, State: directory.StateActive, Tags: []string{},
					UserAttributes: directory.UserAttributes{Username: fmt.Sprintf("user-%06d@contoso.example", i),
						Email: fmt.Sprintf("user-%06d@contoso.example", i), DisplayName: fmt.Sprintf("User %06d", i),
						Department: "Sales", JobTitle: "Associate"}}
				if i%100 == 0 {
					u.Tags = []string{"night"}
				}
				if err := tx.CreateUser(ctx, &u); err != nil {
					return err
				}
				if err := tx.Link(ctx, directory.MemberUser, u.ID, directory.SourceLink{SourceID: sourceID, Source: "contoso", ExternalID: fmt.Sprintf("ext-%d", i)}); err != nil {
					return err
				}
				created = append(created, directory.Change{ObjectKind: directory.MemberUser, ObjectID: u.ID, Name: u.Username,
					Action: directory.ActionCreated, Attributes: []directory.AttrChange{{Attribute: "department", After: "Sales"}}})
			}
			return tx.AddChanges(ctx, imp.ID, created)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// fillHistory gives the user the history of later runs: each
// changes its department and adds it to a group.
func fillHistory(b *testing.B, st store.Store, accountID, sourceID string, u directory.User, runs int) {
	ctx := context.Background()
	for i := range runs {
		run := directory.Run{AccountID: accountID, SourceID: sourceID, Source: "contoso", Kind: directory.RunDelta,
			Outcome: directory.OutcomeSucceeded, FinishedAt: time.Now()}
		err := st.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateRun(ctx, &run); err != nil {
				return err
			}
			return tx.AddChanges(ctx, run.ID, []directory.Change{
				{ObjectKind: directory.MemberUser, ObjectID: u.ID, Name: u.Username, Action: directory.ActionUpdated,
					Attributes: []directory.AttrChange{{Attribute: "department", Before: fmt.Sprint("D", i), After: fmt.Sprint("D", i+1)}}},
				{ObjectKind: directory.MemberGroup, ObjectID: fmt.Sprint("g", i), Name: fmt.Sprint("Group ", i), Action: directory.ActionMemberAdded,
					Member: &directory.Member{Kind: directory.MemberUser, ID: u.ID, Name: u.Username}},
			})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
