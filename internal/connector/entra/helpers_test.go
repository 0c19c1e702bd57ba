package entra_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/connector"
	"github.com/dirsync/dirsync/internal/connector/entra"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/graph/graphtest"
)

const (
	tenant   = "contoso.onmicrosoft.com"
	clientID = "6731de76-14a6-49ae-97bc-6eba6914391e"
	secret   = "Yl48Q~not-a-real-secret-value-0123456789"
)

// env is a fake login authority (real azidentity signs in against it) and
// a Graph server whose answers each test writes.
type env struct {
	login *graphtest.Login
	graph *httptest.Server
	clock *graphtest.Clock
	logs  *bytes.Buffer
	hits  atomic.Int64

	mu      sync.Mutex
	handler http.HandlerFunc
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{login: graphtest.NewLogin(t), clock: graphtest.NewClock(), logs: &bytes.Buffer{}}
	e.graph = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer access-token-") {
			w.WriteHeader(401)
			return
		}
		e.mu.Lock()
		h := e.handler
		e.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(e.graph.Close)
	return e
}

func (e *env) handle(h http.HandlerFunc) {
	e.mu.Lock()
	e.handler = h
	e.mu.Unlock()
}

func (e *env) config() entra.Config {
	return entra.Config{
		Tenant:       tenant,
		ClientID:     clientID,
		Cloud:        "custom",
		AuthorityURL: e.login.URL,
		GraphURL:     e.graph.URL,
		CAPEM:        string(graphtest.CAPEM(e.graph)),
	}
}

func (e *env) open(t *testing.T, cfg entra.Config) connector.Connector {
	t.Helper()
	c, err := entra.Open(cfg, []byte(secret), entra.Options{
		Logger: slog.New(slog.NewTextHandler(lockedWriter{e}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:  e.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type lockedWriter struct{ e *env }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(p)
}

// serve answers with a documented response from internal/graph/testdata.
func (e *env) serve(t *testing.T, w http.ResponseWriter, status int, name string) {
	graphtest.ServeTestdata(t, w, status, name, e.graph.URL)
}

// sink records what a connector hands over. It is safe for concurrent use,
// as connector.Sink requires.
type sink struct {
	mu          sync.Mutex
	users       map[string]directory.SourceUser
	groups      map[string]directory.SourceGroup
	members     map[string][]string // group -> "kind:id", in arrival order
	skips       []connector.Skipped
	patches     []string // "user:id:field,field" / "group:..."
	removed     []string // "user:id:hard"
	memRemoved  []string // "group/member"
	userCalls   int
	groupCalls  int
	patchedUser map[string]directory.SourceUser
}

func newSink() *sink {
	return &sink{users: map[string]directory.SourceUser{}, groups: map[string]directory.SourceGroup{}, members: map[string][]string{}, patchedUser: map[string]directory.SourceUser{}}
}

func (s *sink) User(u directory.SourceUser) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userCalls++
	s.users[u.ExternalID] = u
	return nil
}

func (s *sink) Group(g directory.SourceGroup) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groupCalls++
	s.groups[g.ExternalID] = g
	return nil
}

func (s *sink) Membership(m directory.SourceMembership) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[m.GroupExternalID] = append(s.members[m.GroupExternalID], string(m.MemberKind)+":"+m.MemberExternalID)
	return nil
}

func (s *sink) Skip(k connector.Skipped) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skips = append(s.skips, k)
	return nil
}

func (s *sink) UserPatch(u directory.SourceUser, fields []directory.UserField) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.patches = append(s.patches, "user:"+u.ExternalID+":"+strings.Join(sorted(fieldNames(fields)), ","))
	s.patchedUser[u.ExternalID] = u
	return nil
}

func (s *sink) GroupPatch(g directory.SourceGroup, fields []directory.GroupField) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.patches = append(s.patches, "group:"+g.ExternalID+":"+strings.Join(sorted(fieldNames(fields)), ","))
	return nil
}

func (s *sink) RemoveUser(id string, hard bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = append(s.removed, fmt.Sprintf("user:%s:%v", id, hard))
	return nil
}

func (s *sink) RemoveGroup(id string, hard bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = append(s.removed, fmt.Sprintf("group:%s:%v", id, hard))
	return nil
}

func (s *sink) RemoveMembership(m directory.SourceMembership) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memRemoved = append(s.memRemoved, m.GroupExternalID+"/"+string(m.MemberKind)+":"+m.MemberExternalID)
	return nil
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

var _ connector.ChangeSink = (*sink)(nil)

// ctx is a test context bounded in time, so a hang fails instead of stalling.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func fieldNames[F ~string](fields []F) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = string(f)
	}
	return out
}
