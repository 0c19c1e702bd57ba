package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

// TestSameTenantFromAnotherAccount is issue 10's point 8 as it was found:
// through the API, another account added a synced tenant (by its domain)
// and synced it. Both are refused now (409 domain_claimed), the sync with
// a recorded run, and the other account's directory stays empty.
func TestSameTenantFromAnotherAccount(t *testing.T) {
	e := newEnv(t)
	emu, settings := emulator(t, 6, 1)
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "c", "kind": "entra", "settings": settings,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	if run := e.waitRun(src.ID, 1); run.Outcome != directory.OutcomeSucceeded {
		t.Fatalf("first sync: %+v", run)
	}
	_, toks := newAccount(t, e.parts.Manager, "other", manage.RoleOwner)
	e.tokens["other"] = toks[manage.RoleOwner]
	byDomain := map[string]any{}
	for k, v := range settings {
		byDomain[k] = v
	}
	byDomain["tenant"] = strings.ToUpper(emu.Tenant().Domain())
	var out apiError
	code := e.do("other", "POST", "/api/v1/sources", map[string]any{"name": "same", "kind": "entra", "settings": byDomain,
		"secret": emu.Credentials().ClientSecret, "schedule": "none"}, &out)
	if code != http.StatusConflict || out.Error.Code != manage.CodeDomainClaimed || !strings.Contains(out.Error.Message, "another account") ||
		strings.Contains(out.Error.Message, src.ID) {
		t.Fatalf("the tenant by its domain from another account: %d %+v", code, out)
	}
	var sources struct{ Sources []any }
	e.do("other", "GET", "/api/v1/sources", nil, &sources)
	var users struct{ Users []any }
	e.do("other", "GET", "/api/v1/users", nil, &users)
	if len(sources.Sources)+len(users.Users) != 0 {
		t.Fatalf("the other account holds %d sources and %d users", len(sources.Sources), len(users.Users))
	}
}
