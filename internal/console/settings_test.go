package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/manage"
)

// An owner creates an API token (shown once, and it works), adds a webhook
// and sends a test event to a local receiver, invites a console user with
// a one-time link, and sets the account's time zone.
func TestSettings(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	var received []string
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, r.Header.Get("Webhook-Signature")+" "+string(body))
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	b := w.newTab("owner")
	b.signIn(ownerEmail)
	b.open("/settings")
	b.audit("settings")

	b.do(chromedp.SetValue(chromedp.CSS("#token_role"), "administrator"))
	b.submit(`form[action="/settings/tokens"]`, map[string]string{"#token_name": "ci"})
	token := eval[string](b, `document.getElementById("new-token").value`)
	if !strings.HasPrefix(token, "dst_") && len(token) < 30 {
		t.Fatalf("the new token shown is %q", token)
	}
	actor, err := w.m().Authenticate(t.Context(), token, manage.ViaAPI)
	if err != nil || actor.Role != manage.RoleAdministrator {
		t.Fatalf("the token shown does not authenticate as an administrator: %+v %v", actor, err)
	}
	b.audit("settings-token")
	b.open("/settings")
	if n := b.count("#new-token"); n != 0 || strings.Contains(eval[string](b, "document.body.innerHTML"), token) {
		t.Fatal("the token is shown again")
	}

	b.submit(`form[action="/settings/webhooks"]`, map[string]string{"#hook_url": recv.URL + "/hook"})
	if secret := eval[string](b, `document.getElementById("new-secret").value`); !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the webhook's signing secret shown is %q", secret)
	}
	hooks, err := w.m().Webhooks(t.Context(), w.op)
	if err != nil || len(hooks) != 1 {
		t.Fatalf("stored webhooks: %v %v", hooks, err)
	}
	b.open("/settings/webhooks/" + hooks[0].ID)
	b.submit(`form[action$="/test"]`, nil)
	if msg := b.text("#test-result"); !strings.Contains(msg, "succeeded") || !strings.Contains(msg, "204") {
		t.Fatalf("the test event says %q", msg)
	}
	mu.Lock()
	got := strings.Join(received, "\n")
	mu.Unlock()
	if !strings.Contains(got, manage.EventTypeTest) {
		t.Fatalf("the receiver got %q", got)
	}
	if n := b.count("table.deliveries tbody tr"); n != 1 {
		t.Fatalf("the delivery log lists %d deliveries", n)
	}
	b.audit("webhook")

	b.open("/settings")
	b.do(chromedp.SetValue(chromedp.CSS("#cu_role"), "help_desk"))
	b.submit(`form[action="/settings/console-users"]`, map[string]string{"#cu_email": "desk@example.com"})
	link := eval[string](b, `document.getElementById("new-link").value`)
	if !strings.Contains(link, "/link/dsl_") {
		t.Fatalf("the invitation link is %q", link)
	}
	desk := w.newTab("desk")
	desk.do(chromedp.Navigate(link))
	desk.submit("main form", nil)
	if !strings.Contains(desk.text(".who"), "desk@example.com (help_desk") {
		t.Fatalf("the invited user is signed in as %q", desk.text("header"))
	}

	b.open("/settings")
	b.submit(`form[action="/settings/account"]`, map[string]string{"#time_zone": "Mars/Olympus"})
	if msg := b.text("#settings-error"); !strings.Contains(msg, "Mars/Olympus") {
		t.Fatalf("an unknown time zone says %q", msg)
	}
	b.submit(`form[action="/settings/account"]`, map[string]string{"#time_zone": "Europe/Paris", "#trash_retention_days": "30"})
	st, err := w.m().AccountSettings(t.Context(), w.op)
	if err != nil || st.TimeZone != "Europe/Paris" || st.TrashRetentionDays != 30 {
		t.Fatalf("stored account settings %+v (%v)", st, err)
	}
	if !strings.Contains(b.text(".who"), "owner@example.com") || !strings.Contains(b.text("main"), "CET") && !strings.Contains(b.text("main"), "CEST") {
		t.Fatalf("times are not shown in the account's zone: %s", b.text("main"))
	}
}
