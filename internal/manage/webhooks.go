package manage

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/safehttp"
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
	DeliveryCancelled = store.DeliveryCancelled
)

// EventTypeTest is the type of the event a webhook test sends.
const EventTypeTest = "webhook.test"

// EventTypes are the event types a webhook may subscribe to.
var EventTypes = []string{
	directory.EventUserCreated, directory.EventUserUpdated, directory.EventUserDisabled, directory.EventUserEnabled,
	directory.EventUserDeleted, directory.EventUserRestored, directory.EventGroupCreated, directory.EventGroupUpdated,
	directory.EventGroupDeleted, directory.EventGroupRestored, directory.EventGroupUserAdded, directory.EventGroupUserRemoved,
	directory.EventGroupGroupAdded, directory.EventGroupGroupRemoved, directory.EventSyncCompleted, directory.EventSyncFailed,
	directory.EventSourceReauthorize, directory.EventSourceSecretExpiry, directory.EventUserEnrolled,
}

// WebhookInput creates or changes a subscription; nil fields stay as they
// are (a new subscription is enabled, for every event type).
type WebhookInput struct {
	URL        *string
	EventTypes *[]string
	Enabled    *bool
	// IfVersion makes an update conditional on the subscription's version
	// (version.go); "" or AnyVersion updates whatever it is.
	IfVersion string
}

// NewWebhook is a subscription as created, with its signing secret, which
// is shown this once.
type NewWebhook struct {
	Webhook
	Secret string
}

func checkEventTypes(types []string) error {
	for _, t := range types {
		if !slices.Contains(EventTypes, t) {
			return invalid("event_types", "event type %q is unknown: want some of %s", t, strings.Join(EventTypes, ", "))
		}
	}
	return nil
}

// check checks the input: a URL the deployment lets webhooks reach (no
// credentials in it, no private target unless allowed), known event types.
func (in WebhookInput) check(allow safehttp.AllowList) error {
	if in.URL != nil {
		if err := webhook.ValidateURL(*in.URL, allow); err != nil {
			return invalid("url", "url: %s", strings.TrimPrefix(err.Error(), webhook.ErrInvalidURL.Error()+": ")).with(err)
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
	if err := in.check(m.d.WebhookAllow); err != nil {
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
	return NewWebhook{Webhook: shown(h), Secret: secretText}, err
}

// shown is a webhook as every front end shows it: without its sealed
// secret, and credentials in its URL (stored before they were refused)
// redacted.
func shown(h Webhook) Webhook {
	h.Secret = nil
	h.URL = webhook.RedactURL(h.URL)
	return h
}

func (m *Manager) changed(id string) {
	if m.d.WebhookChanged != nil {
		m.d.WebhookChanged(id)
	}
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
	if err := in.check(m.d.WebhookAllow); err != nil {
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
		if err := checkVersion("webhook "+h.ID, in.IfVersion, WebhookVersion(h)); err != nil {
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
	if err != nil {
		return Webhook{}, err
	}
	m.changed(h.ID)
	return shown(h), nil
}

// DeleteWebhook removes a subscription and its delivery log.
func (m *Manager) DeleteWebhook(ctx context.Context, actor Actor, id string) error {
	return m.DeleteWebhookIfVersion(ctx, actor, id, AnyVersion)
}

// DeleteWebhookIfVersion is DeleteWebhook, made only if the subscription
// is still at the version given (version.go).
func (m *Manager) DeleteWebhookIfVersion(ctx context.Context, actor Actor, id, version string) error {
	if err := actor.require(ActManageHooks); err != nil {
		return err
	}
	var deleted string
	err := m.d.Store.Update(ctx, func(tx store.Tx) error {
		h, err := m.findWebhook(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if err := checkVersion("webhook "+h.ID, version, WebhookVersion(h)); err != nil {
			return err
		}
		deleted = h.ID
		return tx.DeleteWebhook(ctx, actor.AccountID, h.ID)
	})
	if err == nil {
		m.changed(deleted)
	}
	return err
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
		hooks[i] = shown(hooks[i])
	}
	return hooks, err
}

// Webhook returns one subscription.
func (m *Manager) Webhook(ctx context.Context, actor Actor, id string) (Webhook, error) {
	if err := actor.require(ActRead); err != nil {
		return Webhook{}, err
	}
	h, err := m.findWebhook(ctx, m.d.Store, actor, id)
	return shown(h), err
}

// DeliveryQuery pages a subscription's delivery log, newest first.
type DeliveryQuery struct {
	After string // the Next of the previous page
	Limit int    // 0 means DefaultLimit
}

// Deliveries lists a subscription's delivery log, newest first.
func (m *Manager) Deliveries(ctx context.Context, actor Actor, id string, q DeliveryQuery) (Page[Delivery], error) {
	if err := actor.require(ActRead); err != nil {
		return Page[Delivery]{}, err
	}
	limit, err := checkLimit(q.Limit, DefaultLimit)
	if err != nil {
		return Page[Delivery]{}, err
	}
	after, err := decodeCursor(listDeliveries, q.After)
	if err != nil {
		return Page[Delivery]{}, err
	}
	h, err := m.findWebhook(ctx, m.d.Store, actor, id)
	if err != nil {
		return Page[Delivery]{}, err
	}
	page, err := m.d.Store.DeliveryPage(ctx, actor.AccountID, h.ID, after, limit)
	if err != nil {
		return Page[Delivery]{}, cursorError(err)
	}
	if !actor.Can(ActManageHooks) {
		// Below administrator, no internal detail: which addresses refuse
		// connections, which answer, with what certificate.
		for i := range page.Items {
			page.Items[i] = page.Items[i].Redacted()
		}
	}
	return pageOf(listDeliveries, page.Items, page.Next), nil
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
	secretText, err := m.openSecret(h.Secret, "webhook "+h.ID)
	if err != nil {
		return Delivery{}, err
	}
	now := m.now()
	data, _ := json.Marshal(map[string]any{"webhook_id": h.ID, "message": "a test event from dirsync: your receiver is reachable and verifies signatures"})
	e := directory.Event{ID: "evt_test_" + uuid.NewString(), AccountID: h.AccountID, Type: EventTypeTest, Time: now, Data: data}
	status, serr := webhook.Post(ctx, m.webhookClient(), h.URL, string(secretText), e, now)
	d := Delivery{WebhookID: h.ID, AccountID: h.AccountID, EventID: e.ID, EventType: e.Type, Attempt: 1,
		Outcome: store.DeliverySucceeded, HTTPStatus: status, Time: now, DurationMS: m.d.Clock.Now().Sub(now).Milliseconds()}
	if serr != nil {
		d.Outcome = store.DeliveryFailed
		d.Error, d.ErrorSummary = webhook.Describe(serr)
	}
	err = m.d.Store.Update(ctx, func(tx store.Tx) error { return tx.AddDelivery(ctx, &d) })
	return d, err
}

// webhookClient is the client of test deliveries: the one given, or one
// that dials only what the allow list allows and follows no redirect, as
// the dispatcher's does.
func (m *Manager) webhookClient() *http.Client {
	if m.d.WebhookClient != nil {
		return m.d.WebhookClient
	}
	settings := safehttp.DefaultClient
	settings.ResponseHeaderTimeout = webhook.DefaultTimeout
	return safehttp.NewClient(settings.NewTransport(safehttp.TransportOptions{Screen: safehttp.NewScreen(m.d.WebhookAllow)}))
}
