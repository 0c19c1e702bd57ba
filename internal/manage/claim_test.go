package manage

import (
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

func TestDomainClaim(t *testing.T) {
	for _, c := range []struct {
		kind   string
		config string
		want   string
	}{
		{"ldap", `{"base_dn":"OU=Staff, DC=Corp,DC=Example,DC=com"}`, "corp.example.com"},
		{"entra", `{"tenant":" Contoso.OnMicrosoft.com "}`, "contoso.onmicrosoft.com"},
		{"entra", `not json`, ""},
	} {
		if got := domainClaim(kindOf(c.kind), []byte(c.config)); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.kind, c.config, got, c.want)
		}
	}
}

func kindOf(s string) directory.SourceKind { return directory.SourceKind(s) }
