package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/webhook"
)

// jsonValue is one field of a JSON object, decoded later.
type jsonValue json.RawMessage

func (v *jsonValue) UnmarshalJSON(b []byte) error {
	*v = append((*v)[:0], b...)
	return nil
}

func (v jsonValue) into(dst any) error { return json.Unmarshal(v, dst) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// EventTypes are the event types a webhook may subscribe to.
var EventTypes = []string{
	directory.EventUserCreated, directory.EventUserUpdated, directory.EventUserDisabled, directory.EventUserEnabled,
	directory.EventUserDeleted, directory.EventUserRestored, directory.EventGroupCreated, directory.EventGroupUpdated,
	directory.EventGroupDeleted, directory.EventGroupRestored, directory.EventGroupUserAdded, directory.EventGroupUserRemoved,
	directory.EventGroupGroupAdded, directory.EventGroupGroupRemoved, directory.EventSyncCompleted, directory.EventSyncFailed,
	directory.EventSourceReauthorize, directory.EventSourceSecretExpiry,
}

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

func webhookView(h store.Webhook) WebhookView {
	v := WebhookView{ID: h.ID, URL: webhook.RedactURL(h.URL), EventTypes: h.EventTypes, Enabled: h.Enabled, CreatedAt: h.CreatedAt,
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

func (s *Server) checkWebhookURL(raw string) error {
	if err := webhook.ValidateURL(raw, s.WebhookAllowList); err != nil {
		return badField("url", "url: %s", strings.TrimPrefix(err.Error(), webhook.ErrInvalidURL.Error()+": "))
	}
	return nil
}

func checkEventTypes(types []string) error {
	for _, t := range types {
		if !slices.Contains(EventTypes, t) {
			return badField("event_types", "event type %q is unknown: want some of %s", t, strings.Join(EventTypes, ", "))
		}
	}
	return nil
}

func (s *Server) webhookChanged(id string) {
	if s.WebhookChanged != nil {
		s.WebhookChanged(id)
	}
}

func (s *Server) svcReader() (store.ServiceReader, error) {
	svc, ok := store.ServiceOf(s.Store)
	if !ok {
		return nil, &Error{Status: http.StatusNotImplemented, Code: CodeNotImplemented, Message: "this store keeps no webhooks"}
	}
	return svc, nil
}

func (s *Server) updateSvc(ctx context.Context, fn func(store.Tx, store.ServiceTx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		stx, ok := store.ServiceTxOf(tx)
		if !ok {
			return &Error{Status: http.StatusNotImplemented, Code: CodeNotImplemented, Message: "this store keeps no webhooks or tokens"}
		}
		return fn(tx, stx)
	})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *request) error {
	svc, err := s.svcReader()
	if err != nil {
		return err
	}
	hooks, err := svc.Webhooks(r.Context(), r.account.ID)
	if err != nil {
		return err
	}
	out := []WebhookView{}
	for _, h := range hooks {
		out = append(out, webhookView(h))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

func (s *Server) createWebhook(w http.ResponseWriter, r *request) error {
	var in webhookInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.URL == nil {
		return badField("url", "url is required")
	}
	if err := s.checkWebhookURL(*in.URL); err != nil {
		return err
	}
	h := store.Webhook{AccountID: r.account.ID, URL: *in.URL, Enabled: true}
	if in.EventTypes != nil {
		if err := checkEventTypes(*in.EventTypes); err != nil {
			return err
		}
		h.EventTypes = *in.EventTypes
	}
	if in.Enabled != nil {
		h.Enabled = *in.Enabled
	}
	secretText, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	if h.Secret, err = s.Box.Seal([]byte(secretText)); err != nil {
		return err
	}
	ctx := r.Context()
	err = s.updateSvc(ctx, func(_ store.Tx, stx store.ServiceTx) error {
		// A new subscription starts at the end of the feed: it gets what
		// happens from now on, not the account's whole history.
		last, err := stx.LastEventSeq(ctx, r.account.ID)
		if err != nil {
			return err
		}
		h.Cursor = last
		return stx.CreateWebhook(ctx, &h)
	})
	if err != nil {
		return err
	}
	v := webhookView(h)
	v.Secret = secretText // shown once
	return writeJSON(w, http.StatusCreated, v)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *request) error {
	svc, err := s.svcReader()
	if err != nil {
		return err
	}
	h, err := svc.Webhook(r.Context(), r.account.ID, r.PathValue("id"))
	if err != nil {
		return storeErr(err, "webhook")
	}
	return writeJSON(w, http.StatusOK, webhookView(h))
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *request) error {
	var in webhookInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.URL != nil {
		if err := s.checkWebhookURL(*in.URL); err != nil {
			return err
		}
	}
	if in.EventTypes != nil {
		if err := checkEventTypes(*in.EventTypes); err != nil {
			return err
		}
	}
	ctx := r.Context()
	var h store.Webhook
	err := s.updateSvc(ctx, func(_ store.Tx, stx store.ServiceTx) error {
		var err error
		if h, err = stx.Webhook(ctx, r.account.ID, r.PathValue("id")); err != nil {
			return storeErr(err, "webhook")
		}
		if in.URL != nil {
			h.URL = *in.URL
		}
		if in.EventTypes != nil {
			h.EventTypes = *in.EventTypes
		}
		if in.Enabled != nil {
			h.Enabled = *in.Enabled
		}
		return stx.UpdateWebhook(ctx, h)
	})
	if err != nil {
		return err
	}
	s.webhookChanged(h.ID)
	return writeJSON(w, http.StatusOK, webhookView(h))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *request) error {
	ctx := r.Context()
	err := s.updateSvc(ctx, func(_ store.Tx, stx store.ServiceTx) error {
		return storeErr(stx.DeleteWebhook(ctx, r.account.ID, r.PathValue("id")), "webhook")
	})
	if err != nil {
		return err
	}
	s.webhookChanged(r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *request) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	svc, err := s.svcReader()
	if err != nil {
		return err
	}
	h, err := svc.Webhook(r.Context(), r.account.ID, r.PathValue("id"))
	if err != nil {
		return storeErr(err, "webhook")
	}
	ds, err := svc.Deliveries(r.Context(), r.account.ID, h.ID, limit)
	if err != nil {
		return err
	}
	if !Role(r.token.Role).Allows(RoleAdministrator) {
		// Below administrator, no internal detail: which addresses refuse
		// connections, which answer, with what certificate.
		for i := range ds {
			ds[i] = ds[i].Redacted()
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

// TokenView is a token as listed; Token is set only in the answer to its creation.
type TokenView struct {
	store.APIToken
	Token string `json:"token,omitempty"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *request) error {
	svc, err := s.svcReader()
	if err != nil {
		return err
	}
	toks, err := svc.Tokens(r.Context(), r.account.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

func (s *Server) createToken(w http.ResponseWriter, r *request) error {
	var in struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	role, err := ParseRole(in.Role)
	if err != nil {
		return badField("role", "%v", err)
	}
	text, hash, prefix, err := NewToken()
	if err != nil {
		return err
	}
	t := store.APIToken{AccountID: r.account.ID, Name: in.Name, Role: string(role), Hash: hash, Prefix: prefix}
	ctx := r.Context()
	if err := s.updateSvc(ctx, func(_ store.Tx, stx store.ServiceTx) error { return stx.CreateToken(ctx, &t) }); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, TokenView{t, text})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *request) error {
	ctx := r.Context()
	err := s.updateSvc(ctx, func(_ store.Tx, stx store.ServiceTx) error {
		return storeErr(stx.RevokeToken(ctx, r.account.ID, r.PathValue("id"), s.now()), "token")
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
