package sqlstore

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// TestMigrationVersions: each flavor numbers its migrations once each (two
// branches landing the same number leave a store that cannot open), and
// both flavors hold the same migrations, so that a deployment can move
// from SQLite to PostgreSQL at any release.
func TestMigrationVersions(t *testing.T) {
	names := map[string][]string{}
	for _, flavor := range []string{"sqlite", "postgres"} {
		entries, err := fs.ReadDir(migrations, "migrations/"+flavor)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, e := range entries {
			version, _, ok := strings.Cut(e.Name(), "_")
			if !ok || !strings.HasSuffix(e.Name(), ".sql") {
				t.Errorf("%s/%s: want NNNNN_name.sql", flavor, e.Name())
				continue
			}
			if other, dup := seen[version]; dup {
				t.Errorf("%s: %s and %s share version %s: renumber the later one", flavor, other, e.Name(), version)
			}
			seen[version] = e.Name()
			names[flavor] = append(names[flavor], e.Name())
		}
	}
	if !slices.Equal(names["sqlite"], names["postgres"]) {
		t.Errorf("the flavors' migrations differ:\n sqlite   %v\n postgres %v", names["sqlite"], names["postgres"])
	}
}
