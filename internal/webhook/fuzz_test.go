package webhook_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/webhook"
)

// FuzzValidateURL feeds a webhook's URL as an administrator gives it: what
// ValidateURL accepts is an absolute http(s) URL without credentials whose
// host the screen allows, and RedactURL never lets credentials through.
func FuzzValidateURL(f *testing.F) {
	for _, seed := range []string{
		"https://hooks.example/x?token=abc", "http://hooks.example:8080/", "https://user:pass@hooks.example/", "https://@hooks.example/",
		"http://127.0.0.1/", "http://[::1]:80/", "http://[::ffff:127.0.0.1]/", "http://0x7f.1/", "http://2130706433/", "http://127.1/",
		"http://metadata.google.internal/", "http://169.254.169.254/latest", "http://[fe80::1%25eth0]/", "https://hooks.example#x",
		"https://hooks.example:99999/", "https://xn--nxasmq6b.example/", "https://hooks.example/\u0000", "HTTPS://HOOKS.EXAMPLE/",
		"https://hooks.example\\@127.0.0.1/", "https://hooks.example%2f@127.0.0.1/", "//hooks.example/", "https:hooks.example",
	} {
		f.Add(seed)
	}
	screen := safehttp.NewScreen(safehttp.AllowList{})
	f.Fuzz(func(t *testing.T, raw string) {
		red := webhook.RedactURL(raw)
		if u, err := url.Parse(red); err == nil && u.User != nil && u.User.String() != "REDACTED" {
			t.Fatalf("RedactURL(%q) = %q keeps user info", raw, red)
		}
		if webhook.ValidateURL(raw, safehttp.AllowList{}) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Hostname() == "" {
			t.Fatalf("%q accepted: %+v %v", raw, u, err)
		}
		if err := screen.CheckHost(u.Hostname()); err != nil {
			t.Fatalf("%q accepted with a host the screen refuses: %v", raw, err)
		}
		if red != raw {
			t.Fatalf("an accepted URL %q was redacted to %q", raw, red)
		}
		if _, err := http.NewRequest(http.MethodPost, raw, nil); err != nil {
			t.Fatalf("%q accepted, but no request can be made of it: %v", raw, err)
		}
	})
}

// FuzzAllowList feeds dirsync serve's webhook allow list: what it accepts
// reads back the same from its own entries.
func FuzzAllowList(f *testing.F) {
	for _, seed := range []string{"10.0.0.0/8", "192.168.1.20, hooks.corp.example", "*.svc.cluster.local", "fd00::/8", "::ffff:10.0.0.1",
		"10.0.0.0/33", "*", "a..b", "fe80::1%eth0", "0.0.0.0/0", "HOOKS.Example.", "*.*.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		a, err := safehttp.ParseAllowList([]string{entry})
		if err != nil {
			return
		}
		b, err := safehttp.ParseAllowList(a.Strings())
		if err != nil || strings.Join(b.Strings(), " ") != strings.Join(a.Strings(), " ") {
			t.Fatalf("%q -> %q -> %q, %v", entry, a.Strings(), b.Strings(), err)
		}
	})
}

// FuzzVerify feeds a receiver's Verify hostile headers and bodies: it
// never panics and accepts only the signature the secret makes.
func FuzzVerify(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1614265330, 0)
	good, _ := webhook.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, []byte(`{"test": 2432232314}`))
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", good, []byte(`{"test": 2432232314}`))
	f.Add("id", "1614265330", "v1,AAAA v2,BBBB v1", []byte("x"))
	f.Add("", "", "", []byte(nil))
	f.Add("id", "-99999999999999999999", "v1,", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, sigs)
		if webhook.Verify(secret, h, body, now, webhook.DefaultTolerance) != nil {
			return
		}
		want, _ := webhook.Sign(secret, h.Get(webhook.HeaderID), now, body)
		if !strings.Contains(sigs, strings.TrimPrefix(want, "v1,")) && ts == "1614265330" {
			t.Fatalf("verified %q %q %q without the right signature", id, ts, sigs)
		}
	})
}
