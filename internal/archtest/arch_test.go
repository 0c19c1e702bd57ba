// Package archtest keeps dirsync's dependencies pointing one way, as
// tailscale's deptest does: the model at the bottom; connectors and the store
// beside each other, knowing nothing of the engine, the API or the CLI; the
// engine knowing connectors and the store only through their interfaces.
package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/dirsync/dirsync/"

// forbidden maps a package pattern to the dirsync packages it must never
// depend on, directly or not.
var forbidden = map[string][]string{
	"internal/directory":       {"internal/"}, // the model imports nothing of ours
	"internal/connector":       {"internal/store", "internal/engine", "internal/cli", "internal/api", "internal/entraemu"},
	"internal/connector/entra": {"internal/store", "internal/engine", "internal/cli", "internal/api", "internal/entraemu"},
	"internal/connector/ldap":  {"internal/store", "internal/engine", "internal/cli", "internal/api", "internal/sambatest"},
	"internal/graph":           {"internal/store", "internal/engine", "internal/cli", "internal/api", "internal/entraemu"},
	"internal/store":           {"internal/connector", "internal/engine", "internal/cli", "internal/api"},
	"internal/store/sqlstore":  {"internal/connector", "internal/engine", "internal/cli", "internal/api"},
	// The engine sees connectors and the store through interfaces only: no
	// concrete connector or backend.
	"internal/engine":   {"internal/connector/entra", "internal/connector/ldap", "internal/graph", "internal/store/sqlstore", "internal/cli", "internal/api", "internal/service", "internal/entraemu"},
	"internal/entraemu": {"internal/store", "internal/engine", "internal/connector", "internal/graph", "internal/cli", "internal/api"},
	// The emulator's seams: its vocabulary and its query evaluation are
	// pure, and its directory knows nothing of HTTP.
	"internal/entraemu/model":  {"internal/"},
	"internal/entraemu/odata":  {"internal/entraemu/tenant", "internal/entraemu/schema", "internal/entraemu/graph", "internal/entraemu/login", "internal/entraemu/wire", "internal/clock"},
	"internal/entraemu/tenant": {"internal/entraemu/graph", "internal/entraemu/login", "internal/entraemu/wire", "internal/entraemu/throttle", "internal/entraemu/faults"},
	"internal/schedule":        {"internal/"},
	// Scope rules are pure: the model in, decisions out.
	"internal/scope":   {"internal/store", "internal/engine", "internal/connector", "internal/cli", "internal/api", "internal/service"},
	"internal/webhook": {"internal/engine", "internal/connector", "internal/cli", "internal/api", "internal/service"},
	// The API serves the store and the engine; the process and the CLI sit above it.
	"internal/api":    {"internal/cli", "internal/service", "internal/entraemu"},
	"internal/secret": {"internal/"},
	// Network policy sits below everything that sends or serves HTTP.
	"internal/safehttp": {"internal/"},
}

func TestDependenciesPointOneWay(t *testing.T) {
	for pkg, bans := range forbidden {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			rel, ok := strings.CutPrefix(dep, mod)
			if !ok || rel == pkg {
				continue
			}
			for _, ban := range bans {
				if rel == ban || strings.HasPrefix(rel, strings.TrimSuffix(ban, "/")+"/") || (strings.HasSuffix(ban, "/") && strings.HasPrefix(rel, ban)) {
					t.Errorf("%s depends on %s: dependencies must point the other way", pkg, rel)
				}
			}
		}
	}
}

// leaves are packages that depend on no dirsync package but those listed,
// and, unless external says they may, on nothing outside the standard
// library: the scope rules decide from the model alone (phone validation
// reaches them through an interface, so neither the phone-number library
// nor protobuf comes with them); package phone wraps that library.
var leaves = map[string]struct {
	ours     []string
	external bool
}{
	"internal/directory": {},
	"internal/scope":     {ours: []string{"internal/directory"}},
	"internal/phone":     {external: true},
}

func TestLeafPackages(t *testing.T) {
	for pkg, leaf := range leaves {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			rel, ours := strings.CutPrefix(dep, mod)
			if rel == pkg || (ours && slices.Contains(leaf.ours, rel)) || (!ours && leaf.external) {
				continue
			}
			t.Errorf("%s depends on %s: it must stay a leaf", pkg, dep)
		}
	}
}
