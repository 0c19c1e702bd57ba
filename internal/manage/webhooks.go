package manage

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
	"github.com/dirsync/dirsync/internal/webhook"
)

// Webhook is a subscription: an account's events of the listed types are
// posted to its URL, in order, signed.
type Webhook = store.Webhook

// Delivery is one attempt to deliver one event to one webhook.
type Delivery = store.Delivery

// Delivery outcomes.
const (
	DeliverySucceeded = store.DeliverySucceeded
	DeliveryFailed    = store.DeliveryFailed
	DeliveryGaveUp    = store.DeliveryGaveUp
)

// EventTypeTest is the type of the event a webhook test sends.
const EventTypeTest = "webhook.test"

// EventTypes are the event types a webhook may subscribe to.
var EventTypes = []string{
	directory.EventUserCreated, directory.EventUserUpdated, directory.EventUserDisabled, directory.EventUserEnabled,
	directory.EventUserDeleted, directory.EventUserRestored, directory.EventGroupCreated, directory.EventGroupUpdated,
	directory.EventGroupDeleted, directory.EventGroupRestored, directory.EventGroupUserAdded, directory.EventGroupUserRemoved,
	directory.EventGroupGroupAdded, directory.EventGroupGroupRemoved, directory.EventSyncCompleted, directory.EventSyncFailed,
	directory.EventSourceReauthorize, directory.EventSourceSecretExpiry,
}

// WebhookInput creates or changes a subscription; nil fields stay as they
// are (a new subscription is enabled, for every event type).
type WebhookInput struct {
	URL        *string
	EventTypes *[]string
	Enabled    *bool
}

// NewWebhook is a subscription as created, with its signing secret, which
// is shown this once.
type NewWebhook struct {
	Webhook
	Secret string
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return invalid("url", "the URL must be an absolute http or https URL")
	case u.User != nil:
		return invalid("url", "the URL must not hold a user name or password: every delivery is signed with the webhook's secret instead")
	}
	return nil
}

func checkEventTypes(types []string) error {
	for _, t := range types {
		if !slices.Contains(EventTypes, t) {
			return invalid("event_types", "event type %q is unknown: want some of %s", t, strings.Join(EventTypes, ", "))
		}
	}
	return nil
}

func (in WebhookInput) check() error {
	if in.URL != nil {
		if err := checkWebhookURL(*in.URL); err != nil {
			return err
		}
	}
	if in.EventTypes != nil {
		return checkEventTypes(*in.EventTypes)
	}
	return nil
}

// CreateWebhook subscribes a URL to the account's events, from now on
// (not the account's whole history), and returns it with its secret.
func (m *Manager) CreateWebhook(ctx context.Context, actor Actor, in WebhookInput) (NewWebhook, error) {
	if err := actor.require(ActManageHooks); err != nil {
		return NewWebhook{}, err
	}
	if in.URL == nil {
		return NewWebhook{}, invalid("url", "the URL is required")
	}
	if err := in.check(); err != nil {
		return NewWebhook{}, err
	}
	h := Webhook{AccountID: actor.AccountID, URL: strings.TrimSpace(*in.URL), Enabled: true, EventTypes: []string{}}
	if in.EventTypes != nil {
		h.EventTypes = slices.Compact(slices.Sorted(slices.Values(*in.EventTypes)))
	}
	if in.Enabled != nil {
		h.Enabled = *in.Enabled
	}
	box, err := m.box()
	if err != nil {
		return NewWebhook{}, err
	}
	secretText, err := webhook.NewSecret()
	if err != nil {
		return NewWebhook{}, err
	}
	if h.Secret, err = box.Seal([]byte(secretText)); err != nil {
		return NewWebhook{}, err
	}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error {
		last, err := tx.LastEventSeq(ctx, actor.AccountID)
		if err != nil {
			return err
		}
		h.Cursor = last
		return tx.CreateWebhook(ctx, &h)
	})
	h.Secret = nil
	return NewWebhook{Webhook: h, Secret: secretText}, err
}

func (m *Manager) findWebhook(ctx context.Context, rd store.Reader, actor Actor, id string) (Webhook, error) {
	h, err := rd.Webhook(ctx, actor.AccountID, strings.TrimSpace(id))
	if errors.Is(err, store.ErrNotFound) {
		return h, notFound("account %s has no webhook %q", actor.AccountName, id).with(err)
	}
	return h, err
}

// UpdateWebhook changes a subscription.
func (m *Manager) UpdateWebhook(ctx context.Context, actor Actor, id string, in WebhookInput) (Webhook, error) {
	if err := actor.require(ActManageHooks); err != nil {
		return Webhook{}, err
	}
	if err := in.check(); err != nil {
		return Webhook{}, err
	}
	if in.URL == nil && in.EventTypes == nil && in.Enabled == nil {
		return Webhook{}, invalid("", "nothing to change: give a URL, event types or enabled")
	}
	var h Webhook
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if h, err = m.findWebhook(ctx, tx, actor, id); err != nil {
			return err
		}
		if in.URL != nil {
			h.URL = strings.TrimSpace(*in.URL)
		}
		if in.EventTypes != nil {
			h.EventTypes = slices.Compact(slices.Sorted(slices.Values(*in.EventTypes)))
		}
		if in.Enabled != nil {
			h.Enabled = *in.Enabled
		}
		return tx.UpdateWebhook(ctx, h)
	})
	h.Secret = nil
	return h, err
}

// DeleteWebhook removes a subscription and its delivery log.
func (m *Manager) DeleteWebhook(ctx context.Context, actor Actor, id string) error {
	if err := actor.require(ActManageHooks); err != nil {
		return err
	}
	return m.d.Store.Update(ctx, func(tx store.Tx) error {
		h, err := m.findWebhook(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		return tx.DeleteWebhook(ctx, actor.AccountID, h.ID)
	})
}

// Webhooks lists the account's subscriptions.
func (m *Manager) Webhooks(ctx context.Context, actor Actor) ([]Webhook, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	hooks, err := m.d.Store.Webhooks(ctx, actor.AccountID)
	if hooks == nil {
		hooks = []Webhook{}
	}
	for i := range hooks {
		hooks[i].Secret = nil
	}
	return hooks, err
}

// Webhook returns one subscription.
func (m *Manager) Webhook(ctx context.Context, actor Actor, id string) (Webhook, error) {
	if err := actor.require(ActRead); err != nil {
		return Webhook{}, err
	}
	h, err := m.findWebhook(ctx, m.d.Store, actor, id)
	h.Secret = nil
	return h, err
}

// Deliveries lists a subscription's delivery log, newest first.
func (m *Manager) Deliveries(ctx context.Context, actor Actor, id string, limit int) ([]Delivery, error) {
	if err := actor.require(ActRead); err != nil {
		return nil, err
	}
	limit, err := checkLimit(limit, 100)
	if err != nil {
		return nil, err
	}
	h, err := m.findWebhook(ctx, m.d.Store, actor, id)
	if err != nil {
		return nil, err
	}
	ds, err := m.d.Store.Deliveries(ctx, actor.AccountID, h.ID, limit)
	if ds == nil {
		ds = []Delivery{}
	}
	return ds, err
}

// TestWebhook sends a signed test event (type webhook.test) to the
// subscription's URL now, records the attempt in its delivery log, and
// returns it. A receiver that does not answer 2xx gives a failed delivery,
// not an error.
func (m *Manager) TestWebhook(ctx context.Context, actor Actor, id string) (Delivery, error) {
	if err := actor.require(ActManageHooks); err != nil {
		return Delivery{}, err
	}
	h, err := m.findWebhook(ctx, m.d.Store, actor, id)
	if err != nil {
		return Delivery{}, err
	}
	box, err := m.box()
	if err != nil {
		return Delivery{}, err
	}
	secretText, err := box.Open(h.Secret)
	if err != nil {
		return Delivery{}, newError(Unavailable, "the secret of webhook %s cannot be opened with this master key", h.ID).with(err)
	}
	now := m.now()
	data, _ := json.Marshal(map[string]any{"webhook_id": h.ID, "message": "a test event from dirsync: your receiver is reachable and verifies signatures"})
	e := directory.Event{ID: "evt_test_" + uuid.NewString(), AccountID: h.AccountID, Type: EventTypeTest, Time: now, Data: data}
	status, serr := webhook.Send(ctx, m.d.WebhookClient, h.URL, string(secretText), e, now)
	d := Delivery{WebhookID: h.ID, AccountID: h.AccountID, EventID: e.ID, EventType: e.Type, Attempt: 1,
		Outcome: store.DeliverySucceeded, HTTPStatus: status, Time: now, DurationMS: m.d.Clock.Now().Sub(now).Milliseconds()}
	if serr != nil {
		d.Outcome, d.Error = store.DeliveryFailed, serr.Error()
	}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.AddDelivery(ctx, &d) })
	return d, err
}
