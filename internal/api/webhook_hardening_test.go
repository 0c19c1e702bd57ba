package api_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/store"
)

// Webhook targets inside the network and URLs with credentials are refused
// at creation; the delivery log shows roles below administrator a summary
// without internal detail, and administrators the full cause (issue 10,
// points 1 and 12).
func TestWebhookTargetsAndDeliveryErrorsByRole(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"http://127.0.0.2:8080/", "http://localhost/", "http://[::1]/", "http://0.0.0.0/", "http://169.254.169.254/",
		"http://10.0.0.1/", "http://metadata.google.internal/", "https://user:pass@hooks.example/"} {
		if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": u}, nil); code != 400 {
			t.Errorf("%s: %d, want 400", u, code)
		}
	}
	// 127.0.0.1 is on the test deployment's allow list: a closed port there
	// refuses the connection.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	var hook api.WebhookView
	if code := e.do(manage.RoleAdministrator, "POST", "/api/v1/webhooks", map[string]any{"url": closed}, &hook); code != 201 {
		t.Fatalf("create: %d", code)
	}
	ctx := t.Context()
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		return tx.AppendEvents(ctx, []directory.Event{{AccountID: e.account.ID, Type: directory.EventUserCreated, Time: time.Now(), Data: json.RawMessage(`{}`)}})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Dispatcher.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	read := func(role manage.Role) store.Delivery {
		var out struct{ Deliveries []store.Delivery }
		e.do(role, "GET", "/api/v1/webhooks/"+hook.ID+"/deliveries", nil, &out)
		if len(out.Deliveries) != 1 {
			t.Fatalf("%s: deliveries %+v", role, out.Deliveries)
		}
		return out.Deliveries[0]
	}
	admin, ro := read(manage.RoleAdministrator), read(manage.RoleReadOnly)
	if !strings.Contains(admin.Error, "connection refused") || !strings.Contains(admin.Error, "127.0.0.1") {
		t.Errorf("administrator sees %q", admin.Error)
	}
	if ro.Error != "receiver refused the connection" || strings.Contains(ro.Error, "127.0.0.1") {
		t.Errorf("read_only sees %q", ro.Error)
	}
}
