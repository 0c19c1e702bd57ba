package api_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/api"
	"github.com/dirsync/dirsync/internal/entraemu"
	"github.com/dirsync/dirsync/internal/manage"
)

// readmeCurls returns the curl lines of the README's REST API section.
func readmeCurls(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "## The REST API")
	if start < 0 {
		t.Fatal(`README.md has no "## The REST API" section`)
	}
	text = text[start:]
	if end := strings.Index(text[1:], "\n## "); end >= 0 {
		text = text[:end+1]
	}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "curl ") {
			out = append(out, line)
		}
	}
	return out
}

// curlWords splits a curl line as a shell would (quotes, $API and $TOKEN
// expanded outside single quotes), up to a pipe.
func curlWords(line, apiURL, token string) []string {
	var words []string
	var cur strings.Builder
	quote, inWord := byte(0), false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == 0 && c == '|':
			i = len(line)
			continue
		case quote == 0 && c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case quote == 0 && (c == '\'' || c == '"'):
			quote, inWord = c, true
			continue
		case quote == c:
			quote = 0
			continue
		case c == '$' && quote != '\'':
			for _, v := range []struct{ name, val string }{{"API", apiURL}, {"TOKEN", token}} {
				if strings.HasPrefix(line[i+1:], v.name) {
					cur.WriteString(v.val)
					i += len(v.name)
					inWord = true
					goto next
				}
			}
		}
		cur.WriteByte(c)
		inWord = true
	next:
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestReadmeAPIExamples runs the README's curl lines, as written, against
// what `dirsync demo` serves (its tenant: 1,000 users, 50 groups, seed 1;
// its source: demo-entra): each must succeed and its answer match the
// OpenAPI document.
func TestReadmeAPIExamples(t *testing.T) {
	e := newEnv(t)
	tenant, err := entraemu.New(entraemu.Options{Users: 1000, Groups: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := srv.Credentials()
	settings := map[string]any{"tenant": c.TenantID, "client_id": c.ClientID, "cloud": "custom", "auth_method": "secret",
		"authority_url": c.AuthorityURL, "graph_url": c.GraphURL, "ca_pem": string(srv.CAPEM())}
	var src api.SourceView
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources", map[string]any{"name": "demo-entra", "kind": "entra", "settings": settings,
		"secret": c.ClientSecret, "schedule": "none"}, &src)
	e.do(manage.RoleAdministrator, "POST", "/api/v1/sources/"+src.ID+"/sync", nil, nil)
	e.waitRun(src.ID, 1)
	doc, router := loadSpec(t, e.srv.URL)
	curls := readmeCurls(t)
	if len(curls) < 12 {
		t.Fatalf("only %d curl lines", len(curls))
	}
	for _, line := range curls {
		words := curlWords(line, e.srv.URL+"/api/v1", e.tokens[manage.RoleOwner])
		method, target, body := "GET", "", ""
		hdr := http.Header{}
		for i := 1; i < len(words); i++ {
			switch w := words[i]; w {
			case "-s", "-i":
			case "-X":
				i++
				method = words[i]
			case "-H":
				i++
				k, v, _ := strings.Cut(words[i], ": ")
				hdr.Add(k, v)
			case "-d":
				i++
				body = words[i]
				if method == "GET" {
					method = "POST"
				}
			default:
				target = w
			}
		}
		req, _ := http.NewRequest(method, target, strings.NewReader(body))
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 || len(bytes.TrimSpace(out)) == 0 {
			t.Errorf("%s\n-> %d %.300s", line, resp.StatusCode, out)
			continue
		}
		checkAgainstDoc(t, doc, router, req, []byte(body), resp, out)
	}
}
