// Package webhook delivers an account's change events to the URLs it
// subscribed, signed per the Standard Webhooks specification
// (https://www.standardwebhooks.com): each request carries webhook-id,
// webhook-timestamp and webhook-signature headers, the signature being
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" under the
// subscription's secret ("whsec_" and base64 key bytes).
//
// The Dispatcher reads the events feed by a cursor kept per subscription in
// the database, delivers in order (the next event waits until the previous
// one succeeded or was given up), and retries with exponential backoff for
// more than a day. Every attempt is written to the delivery log.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a random signing secret: whsec_ and 24 random bytes in
// base64, the form the specification's libraries accept.
func NewSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey returns the HMAC key a secret stands for.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) < 16 {
		// Never echo the secret.
		return nil, errors.New("webhook: secret must be whsec_ and at least 16 bytes in base64")
	}
	return key, nil
}

// ValidSecret reports whether secret is usable for signing.
func ValidSecret(secret string) error {
	_, err := secretKey(secret)
	return err
}

// Sign returns the webhook-signature value for one message.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + sign(key, id, ts.Unix(), body), nil
}

func sign(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SetHeaders sets the three signature headers on h.
func SetHeaders(h http.Header, secret, id string, ts time.Time, body []byte) error {
	sig, err := Sign(secret, id, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// Errors Verify returns.
var (
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	ErrTimestamp      = errors.New("webhook: timestamp outside the tolerance")
	ErrSignature      = errors.New("webhook: no matching signature")
)

// DefaultTolerance is how far a timestamp may be from the receiver's clock,
// as the specification recommends, to defeat replays.
const DefaultTolerance = 5 * time.Minute

// Verify checks a received message: the headers, the timestamp against now
// within tolerance, and that one of the space-separated v1 signatures
// matches (senders list several while they rotate secrets).
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not a Unix time", ErrTimestamp, tsText)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := sign(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrSignature
}
