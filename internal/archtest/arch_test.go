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
	// The export engine sits beside the import one, under the application layer.
	"internal/provision": {"internal/cli", "internal/api", "internal/service", "internal/engine", "internal/store/sqlstore", "internal/entraemu", "internal/manage"},
	// The application layer knows no front end: the CLI, the API, the
	// console and the service all call it.
	"internal/manage": {"internal/cli", "internal/api", "internal/console", "internal/service", "internal/factory", "internal/entraemu", "internal/sambatest"},
	// The factory builds the parts front ends use, and knows none of them.
	"internal/factory": {"internal/cli", "internal/api", "internal/console", "internal/service", "internal/entraemu"},
	"internal/config":  {"internal/"},
	// The API is a front end over manage; the process and the CLI sit above it.
	"internal/api": {"internal/cli", "internal/service", "internal/entraemu", "internal/console"},
	// The console is the third front end, beside the API: neither knows the other.
	"internal/console": {"internal/cli", "internal/api", "internal/service", "internal/entraemu", "internal/factory"},
	"internal/secret":  {"internal/"},
	// Network policy sits below everything that sends or serves HTTP.
	"internal/safehttp": {"internal/"},
}

// frontEnds parse and print; every rule is manage's. They never import the
// store, a backend or the engine themselves (they reach them only through
// manage and, to open them, the factory).
var (
	frontEnds      = []string{"internal/cli", "internal/api", "internal/console"}
	frontEndsNever = []string{"internal/store", "internal/store/sqlstore", "internal/engine"}
)

func TestFrontEndsDoNotReachTheStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"internal/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		front := false
		for _, f := range frontEnds {
			front = front || pkg == f || strings.HasPrefix(pkg, f+"/")
		}
		if !front {
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, mod); ok && slices.Contains(frontEndsNever, rel) {
				t.Errorf("%s imports %s: a front end goes through internal/manage", pkg, rel)
			}
		}
	}
	if checked < 2 {
		t.Fatalf("checked %d front-end packages; the CLI and the API at least", checked)
	}
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
