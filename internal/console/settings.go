package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dirsync/dirsync/internal/manage"
)

// The account's settings: API tokens, webhooks, console users, and the
// account's own settings. Each section shows only to the roles that may
// see or change it; manage checks every change again.

// settingsData is the settings page.
type settingsData struct {
	Tokens       []manage.APIToken
	Webhooks     []manage.Webhook
	ConsoleUsers []manage.ConsoleUser
	Account      manage.AccountSettings
	Roles        []manage.Role
	EventTypes   []string
	// Shown once: a token or a webhook's signing secret just created, a
	// sign-in link just issued.
	NewToken  *manage.NewToken
	NewSecret string
	NewLink   string
	// Error is what a form said went wrong, and Form which form.
	Error, Form string
}

// NotifyRole reports whether the account's notifications go to role.
func (d *settingsData) NotifyRole(r manage.Role) bool {
	for _, n := range d.Account.NotifyRoles {
		if n == r {
			return true
		}
	}
	return false
}

func (s *Server) settingsPage(w http.ResponseWriter, r *request) error {
	return s.renderSettings(w, r, http.StatusOK, &settingsData{})
}

// renderSettings renders the settings page with what the actor may see.
func (s *Server) renderSettings(w http.ResponseWriter, r *request, status int, d *settingsData) error {
	ctx, a := r.Context(), r.actor
	var err error
	d.Roles, d.EventTypes = manage.Roles, manage.EventTypes
	if a.Can(manage.ActManageTokens) {
		if d.Tokens, err = s.Manager.Tokens(ctx, a); err != nil {
			return err
		}
	}
	if d.Webhooks, err = s.Manager.Webhooks(ctx, a); err != nil {
		return err
	}
	if a.Can(manage.ActManageConsole) {
		if d.ConsoleUsers, err = s.Manager.ConsoleUsers(ctx, a); err != nil {
			return err
		}
	}
	if d.Account, err = s.Manager.AccountSettings(ctx, a); err != nil {
		return err
	}
	return s.render(w, r, status, "settings", &view{Title: "Settings", Nav: "settings", Data: d})
}

// settingsFailed shows a refused form on the settings page, or returns
// the error when it is not the form's.
func (s *Server) settingsFailed(w http.ResponseWriter, r *request, form string, err error) error {
	msg, status, ok := formError(err)
	if !ok {
		return err
	}
	return s.renderSettings(w, r, status, &settingsData{Error: msg, Form: form})
}

func (s *Server) createToken(w http.ResponseWriter, r *request) error {
	t, err := s.Manager.CreateToken(r.Context(), r.actor, r.PostFormValue("name"), r.PostFormValue("role"))
	if err != nil {
		return s.settingsFailed(w, r, "token", err)
	}
	// The token is shown on this answer only: no redirect, nothing kept.
	return s.renderSettings(w, r, http.StatusOK, &settingsData{NewToken: &t})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *request) error {
	if err := s.Manager.RevokeToken(r.Context(), r.actor, r.PathValue("id")); err != nil {
		return s.settingsFailed(w, r, "token", err)
	}
	return redirect(w, r, "/settings?done=revoked#tokens-h")
}

func (s *Server) createWebhook(w http.ResponseWriter, r *request) error {
	u := strings.TrimSpace(r.PostFormValue("url"))
	types := r.PostForm["event_type"]
	in := manage.WebhookInput{URL: &u}
	if len(types) > 0 {
		in.EventTypes = &types
	}
	h, err := s.Manager.CreateWebhook(r.Context(), r.actor, in)
	if err != nil {
		return s.settingsFailed(w, r, "webhook", err)
	}
	return s.renderSettings(w, r, http.StatusOK, &settingsData{NewSecret: h.Secret})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *request) error {
	if err := s.Manager.DeleteWebhook(r.Context(), r.actor, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/settings?done=deleted#hooks-h")
}

// webhookData is a webhook's page: its delivery log, newest first.
type webhookData struct {
	Hook       manage.Webhook
	Deliveries []manage.Delivery
	Next       string
	// Tested is the test delivery just made.
	Tested *manage.Delivery
}

func (s *Server) webhookPage(w http.ResponseWriter, r *request) error {
	return s.renderWebhook(w, r, nil)
}

func (s *Server) renderWebhook(w http.ResponseWriter, r *request, tested *manage.Delivery) error {
	id := r.PathValue("id")
	h, err := s.Manager.Webhook(r.Context(), r.actor, id)
	if err != nil {
		return err
	}
	page, err := s.Manager.Deliveries(r.Context(), r.actor, id, manage.DeliveryQuery{After: r.URL.Query().Get("after"), Limit: pageSize})
	if err != nil {
		return err
	}
	d := webhookData{Hook: h, Deliveries: page.Items, Tested: tested}
	if page.Next != "" {
		d.Next = "/settings/webhooks/" + url.PathEscape(id) + "?" + url.Values{"after": {page.Next}}.Encode()
	}
	return s.render(w, r, http.StatusOK, "webhook", &view{Title: "Webhook " + h.URL, Nav: "settings", Data: d})
}

// testWebhook sends a test event now and shows how it went.
func (s *Server) testWebhook(w http.ResponseWriter, r *request) error {
	d, err := s.Manager.TestWebhook(r.Context(), r.actor, r.PathValue("id"))
	if err != nil && d.ID == "" {
		return err
	}
	return s.renderWebhook(w, r, &d)
}

func (s *Server) addConsoleUser(w http.ResponseWriter, r *request) error {
	u, err := s.Manager.CreateConsoleUser(r.Context(), r.actor, manage.ConsoleUserInput{Email: r.PostFormValue("email"), Role: r.PostFormValue("role")})
	if err != nil {
		return s.settingsFailed(w, r, "console", err)
	}
	return s.issueLink(w, r, u.Email)
}

// issueLink makes a one-time sign-in link for a console user and shows it
// once, for the owner to pass on.
func (s *Server) issueLink(w http.ResponseWriter, r *request, email string) error {
	l, err := s.Manager.IssueSignInLink(r.Context(), r.actor, email)
	if err != nil {
		return s.settingsFailed(w, r, "console", err)
	}
	scheme := "http"
	if s.secure(r.Request) {
		scheme = "https"
	}
	return s.renderSettings(w, r, http.StatusOK, &settingsData{NewLink: scheme + "://" + r.Host + "/link/" + l.Token})
}

func (s *Server) consoleUserLink(w http.ResponseWriter, r *request) error {
	return s.issueLink(w, r, r.PathValue("id"))
}

func (s *Server) setConsoleRole(w http.ResponseWriter, r *request) error {
	if _, err := s.Manager.SetConsoleUserRole(r.Context(), r.actor, r.PathValue("id"), r.PostFormValue("role")); err != nil {
		return s.settingsFailed(w, r, "console", err)
	}
	return redirect(w, r, "/settings?done=saved#console-h")
}

func (s *Server) removeConsoleUser(w http.ResponseWriter, r *request) error {
	if _, err := s.Manager.RemoveConsoleUser(r.Context(), r.actor, r.PathValue("id")); err != nil {
		return s.settingsFailed(w, r, "console", err)
	}
	return redirect(w, r, "/settings?done=removed#console-h")
}

func (s *Server) setAccountSettings(w http.ResponseWriter, r *request) error {
	f := r.PostForm
	st := manage.AccountSettings{TimeZone: strings.TrimSpace(f.Get("time_zone")), NotifyEmails: manage.ParseEmails(f.Get("notify_emails"))}
	if v := strings.TrimSpace(f.Get("trash_retention_days")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return s.settingsFailed(w, r, "account", badForm("%q is not a whole number of days", v))
		}
		st.TrashRetentionDays = n
	}
	for _, role := range f["notify_role"] {
		st.NotifyRoles = append(st.NotifyRoles, manage.Role(role))
	}
	if _, err := s.Manager.SetAccountSettings(r.Context(), r.actor, st); err != nil {
		return s.settingsFailed(w, r, "account", err)
	}
	return redirect(w, r, "/settings?done=saved#account-h")
}
