package webhook_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/safehttp"
	"github.com/dirsync/dirsync/internal/webhook"
)

func TestValidateURL(t *testing.T) {
	refused := map[string]string{
		"ftp://x.example/":                        "http or https",
		"/relative":                               "http or https",
		"https://":                                "host",
		"https:opaque":                            "host",
		"https://user:pass@hooks.example/x":       "credentials",
		"https://token@hooks.example/x":           "credentials",
		"https://hooks.example/x#frag":            "fragment",
		"https://hooks.example:0/":                "port",
		"https://hooks.example:70000/":            "port",
		"https://hooks.example/a b":               "spaces",
		"https://hooks.example/\n":                "control",
		"http://127.0.0.1:8080/hook":              "loopback",
		"http://localhost/":                       "loopback",
		"http://[::1]/":                           "loopback",
		"http://0.0.0.0/":                         "unspecified",
		"http://169.254.169.254/latest/meta-data": "link-local",
		"http://10.0.0.1/":                        "private",
		"http://metadata.google.internal/":        ".internal",
		"http://100.64.0.1/":                      "carrier-grade NAT",
		"http://2130706433/":                      "single-label",
		"https://hooks.example/" + strings.Repeat("a", webhook.MaxURLLength): "longer",
	}
	for raw, want := range refused {
		err := webhook.ValidateURL(raw, safehttp.AllowList{})
		if !errors.Is(err, webhook.ErrInvalidURL) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a refusal saying %q", raw, err, want)
		}
	}
	for _, ok := range []string{"https://hooks.example/x?token=abc", "http://hooks.example:8080/", "https://93.184.216.34/x", "https://[2606:4700::1]:8443/"} {
		if err := webhook.ValidateURL(ok, safehttp.AllowList{}); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	allow, _ := safehttp.ParseAllowList([]string{"10.0.0.0/8", "hooks.corp.internal"})
	for _, ok := range []string{"http://10.0.0.1/", "https://hooks.corp.internal/x"} {
		if err := webhook.ValidateURL(ok, allow); err != nil {
			t.Errorf("%q with an allow list: %v", ok, err)
		}
	}
	if err := webhook.ValidateURL("http://127.0.0.1/", allow); err == nil {
		t.Error("loopback allowed by a list that does not name it")
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://user:pass@hooks.example/x?q=1": "https://REDACTED@hooks.example/x?q=1",
		"https://token@hooks.example/":          "https://REDACTED@hooks.example/",
		"https://hooks.example/x":               "https://hooks.example/x",
		"://bad":                                "(unreadable URL)",
	} {
		if got := webhook.RedactURL(raw); got != want {
			t.Errorf("%q: %q, want %q", raw, got, want)
		}
	}
}
