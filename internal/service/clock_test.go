package service

import (
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/manage"
)

// TestConnectorsTellTimeOnTheServiceClock: the connectors the service
// opens (through the registry, as in production) tell the time on the
// service's clock: a client secret expiring ten days after the fake "now"
// is reported so, whatever the real date.
func TestConnectorsTellTimeOnTheServiceClock(t *testing.T) {
	w := newWorld(t)
	expires := w.clock.Now().AddDate(0, 0, 10).Format("2006-01-02")
	src := w.addSource("contoso", map[string]any{"secret_expires": expires})
	test, err := w.parts.Manager.TestSource(t.Context(), w.owner, src.ID)
	if err != nil {
		t.Fatalf("test: %v (%+v)", err, test)
	}
	i := slices.IndexFunc(test.Checks, func(c manage.CheckResult) bool { return c.Name == "secret expiry" })
	if i < 0 || !strings.Contains(test.Checks[i].Message, "in 10 days") {
		t.Fatalf("checks %+v: want the secret expiring in 10 days on the service's clock", test.Checks)
	}
}
