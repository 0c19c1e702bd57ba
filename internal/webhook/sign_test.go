package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks reference libraries' tests.
const (
	specSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID      = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS      = 1614265330
	specPayload = `{"test": 2432232314}`
	specSig     = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesSpecExample(t *testing.T) {
	got, err := Sign(specSecret, specID, time.Unix(specTS, 0), []byte(specPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSig {
		t.Fatalf("signature %s, want %s", got, specSig)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(specTS, 0)
	h := http.Header{}
	if err := SetHeaders(h, specSecret, specID, now, []byte(specPayload)); err != nil {
		t.Fatal(err)
	}
	if err := Verify(specSecret, h, []byte(specPayload), now.Add(time.Minute), DefaultTolerance); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// Several signatures, one good: accepted (secret rotation).
	h2 := h.Clone()
	h2.Set(HeaderSignature, "v1,bm90IGl0 v2,xyz "+h.Get(HeaderSignature))
	if err := Verify(specSecret, h2, []byte(specPayload), now, DefaultTolerance); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	other, _ := NewSecret()
	for name, c := range map[string]struct {
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		"tampered body": {specSecret, h, specPayload + " ", now, ErrSignature},
		"other secret":  {other, h, specPayload, now, ErrSignature},
		"too old":       {specSecret, h, specPayload, now.Add(6 * time.Minute), ErrTimestamp},
		"future":        {specSecret, h, specPayload, now.Add(-6 * time.Minute), ErrTimestamp},
		"no headers":    {specSecret, http.Header{}, specPayload, now, ErrMissingHeaders},
	} {
		if err := Verify(c.secret, c.h, []byte(c.body), c.now, DefaultTolerance); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || !strings.HasPrefix(a, SecretPrefix) || ValidSecret(a) != nil {
		t.Fatalf("secrets %q %q", a, b)
	}
	if err := ValidSecret("whsec_short"); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("bad secret: %v", err)
	}
}
