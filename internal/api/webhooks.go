package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/dirsync/dirsync/internal/manage"
)

// EventTypes are the event types a webhook may subscribe to.
var EventTypes = manage.EventTypes

// WebhookView is a subscription as shown; Secret is set only in the answer
// to its creation.
type WebhookView struct {
	ID            string     `json:"id"`
	URL           string     `json:"url"`
	EventTypes    []string   `json:"event_types"`
	Enabled       bool       `json:"enabled"`
	CreatedAt     time.Time  `json:"created_at"`
	Cursor        string     `json:"cursor"`
	Attempts      int        `json:"failed_attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	Secret        string     `json:"secret,omitempty"`
}

func webhookView(h manage.Webhook) WebhookView {
	v := WebhookView{ID: h.ID, URL: h.URL, EventTypes: h.EventTypes, Enabled: h.Enabled, CreatedAt: h.CreatedAt,
		Cursor: formatSeq(h.Cursor), Attempts: h.Attempts}
	if v.EventTypes == nil {
		v.EventTypes = []string{}
	}
	if !h.NextAttemptAt.IsZero() {
		t := h.NextAttemptAt
		v.NextAttemptAt = &t
	}
	return v
}

func formatSeq(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

type webhookInput struct {
	URL        *string   `json:"url"`
	EventTypes *[]string `json:"event_types"`
	Enabled    *bool     `json:"enabled"`
}

func (in webhookInput) input() manage.WebhookInput {
	return manage.WebhookInput{URL: in.URL, EventTypes: in.EventTypes, Enabled: in.Enabled}
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *request) error {
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.WebhookPage(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	out := []WebhookView{}
	for _, h := range page.Items {
		out = append(out, webhookView(h))
	}
	return writePage(w, r, "webhooks", out, page.Next, nil)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *request) error {
	var in webhookInput
	if err := decode(r, &in); err != nil {
		return err
	}
	h, err := s.Manager.CreateWebhook(r.Context(), r.actor, in.input())
	if err != nil {
		return err
	}
	v := webhookView(h.Webhook)
	v.Secret = h.Secret // shown once
	w.Header().Set("Location", "/api/v1/webhooks/"+h.ID)
	w.Header().Set("ETag", etag(manage.WebhookVersion(h.Webhook)))
	return writeJSON(w, http.StatusCreated, v)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *request) error {
	h, err := s.Manager.Webhook(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if fresh(w, r, manage.WebhookVersion(h)) {
		return nil
	}
	return writeJSON(w, http.StatusOK, webhookView(h))
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *request) error {
	var in webhookInput
	if err := decode(r, &in); err != nil {
		return err
	}
	input := in.input()
	var err error
	if input.IfVersion, err = ifMatch(r); err != nil {
		return err
	}
	h, err := s.Manager.UpdateWebhook(r.Context(), r.actor, r.PathValue("id"), input)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(manage.WebhookVersion(h)))
	return writeJSON(w, http.StatusOK, webhookView(h))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := s.Manager.DeleteWebhookIfVersion(r.Context(), r.actor, r.PathValue("id"), version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.Deliveries(r.Context(), r.actor, r.PathValue("id"), manage.DeliveryQuery{After: r.URL.Query().Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	return writePage(w, r, "deliveries", page.Items, page.Next, nil)
}

// testWebhook sends a test event to the webhook now and answers with the
// delivery, succeeded or failed.
func (s *Server) testWebhook(w http.ResponseWriter, r *request) error {
	d, err := s.Manager.TestWebhook(r.Context(), r.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

// TokenView is a token as listed; Token is set only in the answer to its creation.
type TokenView = manage.NewToken

func (s *Server) listTokens(w http.ResponseWriter, r *request) error {
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Manager.TokenPage(r.Context(), r.actor, q)
	if err != nil {
		return err
	}
	return writePage(w, r, "tokens", page.Items, page.Next, nil)
}

func (s *Server) createToken(w http.ResponseWriter, r *request) error {
	var in struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.Manager.CreateToken(r.Context(), r.actor, in.Name, in.Role)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tokens/"+t.ID)
	return writeJSON(w, http.StatusCreated, t)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *request) error {
	if err := s.Manager.RevokeToken(r.Context(), r.actor, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
