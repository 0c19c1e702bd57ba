// Command sdkcapture runs Microsoft's Go SDK (msgraph-sdk-go with
// azidentity) against a running `dirsync emulate entra` and records every
// request the SDK sends, as sent (headers and body bytes, gzip included),
// with the status the emulator answered, one JSON object a line. The
// emulator's tests replay the recording (sdk_test.go), so the SDK's
// requests stay served without building the SDK, whose cold build does not
// fit the project's CI (see testdata/README.md).
//
// It is a module of its own, so the product does not depend on the SDK:
//
//	dirsync emulate entra --users 50 --groups 20 --seed 1 --no-throttle \
//	    --ca-out /tmp/ca.pem --credentials-out /tmp/creds.json &
//	cd internal/entraemu/testdata/sdkcapture
//	go run . -credentials /tmp/creds.json -out ../sdk-requests.jsonl
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

type credentials struct {
	TenantID     string `json:"tenant_id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	GraphURL     string `json:"graph_url"`
	AuthorityURL string `json:"authority_url"`
	CAFile       string `json:"ca_file"`
	WriteApp     struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	} `json:"write_app"`
}

// Recorded is one request as the SDK sent it.
type Recorded struct {
	Step    string            `json:"step"`
	Method  string            `json:"method"`
	URL     string            `json:"url"` // path and query, below the host
	Headers map[string]string `json:"headers"`
	Body    []byte            `json:"body,omitempty"` // as sent: base64 in JSON
	Status  int               `json:"status"`
}

// recorder is the transport under the SDK's middleware: it sees requests
// exactly as they go on the wire.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	step string
	out  []Recorded
}

var kept = []string{"Accept", "Content-Type", "Content-Encoding", "ConsistencyLevel", "Prefer"}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/v1.0") {
		return resp, err
	}
	rec := Recorded{Method: req.Method, URL: req.URL.RequestURI(), Headers: map[string]string{}, Body: body, Status: resp.StatusCode}
	for _, h := range kept {
		if v := req.Header.Get(h); v != "" {
			rec.Headers[h] = v
		}
	}
	r.mu.Lock()
	rec.Step = r.step
	r.out = append(r.out, rec)
	r.mu.Unlock()
	return resp, nil
}

func main() {
	credFile := flag.String("credentials", "creds.json", "the emulator's credentials file")
	out := flag.String("out", "sdk-requests.jsonl", "where to write the recording")
	flag.Parse()
	var c credentials
	b, err := os.ReadFile(*credFile)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		log.Fatal(err)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	rec := &recorder{base: base}
	reader, err := newClient(c, c.ClientID, c.ClientSecret, base, rec)
	if err != nil {
		log.Fatal(err)
	}
	writer, err := newClient(c, c.WriteApp.ClientID, c.WriteApp.ClientSecret, base, rec)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(context.Background(), reader, writer, rec); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	for _, r := range rec.out {
		line, _ := json.Marshal(r)
		buf.Write(append(line, '\n'))
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d requests recorded in %s\n", len(rec.out), *out)
}

// newClient is the SDK as a user sets it up against a custom authority:
// azidentity with instance discovery off, the SDK's default middleware
// (compression included) over a transport that trusts the emulator's CA.
func newClient(c credentials, clientID, secret string, base http.RoundTripper, rec *recorder) (*msgraphsdk.GraphServiceClient, error) {
	cred, err := azidentity.NewClientSecretCredential(c.TenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: c.AuthorityURL}, Transport: &http.Client{Transport: base}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(c.GraphURL)
	if err != nil {
		return nil, err
	}
	auth, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{c.GraphURL + "/.default"}, []string{u.Hostname()})
	if err != nil {
		return nil, err
	}
	opts := msgraphcore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(rec, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, err
	}
	adapter.SetBaseUrl(c.GraphURL + "/v1.0")
	return msgraphsdk.NewGraphServiceClient(adapter), nil
}

// run makes the calls issue 13 lists: a $batch (gzip-compressed, GET steps
// with "body": null, a UPN with @ in a step's URL), the graph. casts,
// /subscribedSkus, a compressed PATCH, and servicePrincipals/delta. The
// sync app reads; the write app writes.
func run(ctx context.Context, client, writer *msgraphsdk.GraphServiceClient, rec *recorder) error {
	step := func(name string) { rec.mu.Lock(); rec.step = name; rec.mu.Unlock() }
	step("list users")
	users, err := client.Users().Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	first, second := users.GetValue()[0], users.GetValue()[1]
	step("list groups")
	gs, err := client.Groups().Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	group := *gs.GetValue()[0].GetId()
	step("batch")
	if err := runBatch(ctx, client, *first.GetUserPrincipalName(), group); err != nil {
		return err
	}
	step("casts")
	if _, err := client.Groups().ByGroupId(group).Members().GraphUser().Get(ctx, nil); err != nil {
		return fmt.Errorf("members/graph.user: %w", err)
	}
	if _, err := client.Users().ByUserId(*first.GetId()).MemberOf().GraphGroup().Get(ctx, nil); err != nil {
		return fmt.Errorf("memberOf/graph.group: %w", err)
	}
	headers := abstractions.NewRequestHeaders()
	headers.Add("ConsistencyLevel", "eventual")
	if _, err := client.Groups().ByGroupId(group).Members().GraphUser().Count().Get(ctx, &groups.ItemMembersGraphUserCountRequestBuilderGetRequestConfiguration{Headers: headers}); err != nil {
		return fmt.Errorf("members/graph.user/$count: %w", err)
	}
	step("patch")
	u := models.NewUser()
	title := "Captured"
	u.SetJobTitle(&title)
	if _, err := writer.Users().ByUserId(*first.GetId()).Patch(ctx, u, nil); err != nil {
		return fmt.Errorf("patch: %w", err)
	}
	step("delete")
	if err := writer.Users().ByUserId(*second.GetId()).Delete(ctx, nil); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	step("deleted items cast")
	if _, err := client.Directory().DeletedItems().GraphUser().Get(ctx, nil); err != nil {
		return fmt.Errorf("deletedItems/graph.user: %w", err)
	}
	step("subscribedSkus")
	if _, err := client.SubscribedSkus().Get(ctx, nil); err != nil {
		return fmt.Errorf("subscribedSkus: %w", err)
	}
	step("servicePrincipals delta")
	q := &serviceprincipals.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName"}}
	if _, err := client.ServicePrincipals().Delta().GetAsDeltaGetResponse(ctx, &serviceprincipals.DeltaRequestBuilderGetRequestConfiguration{QueryParameters: q}); err != nil {
		return fmt.Errorf("servicePrincipals/delta: %w", err)
	}
	return nil
}

// runBatch sends a $batch of two GET steps: a user by UPN and a group's
// members.
func runBatch(ctx context.Context, client *msgraphsdk.GraphServiceClient, upn, group string) error {
	batch := msgraphcore.NewBatchRequest(client.GetAdapter())
	byUPN, err := client.Users().ByUserId(upn).ToGetRequestInformation(ctx, nil)
	if err != nil {
		return err
	}
	members, err := client.Groups().ByGroupId(group).Members().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return err
	}
	for _, ri := range []*abstractions.RequestInformation{byUPN, members} {
		if _, err := batch.AddBatchRequestStep(*ri); err != nil {
			return err
		}
	}
	resp, err := batch.Send(ctx, client.GetAdapter())
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	for id, status := range resp.GetStatusCodes() {
		if status >= 400 {
			return fmt.Errorf("batch step %s: %d", id, status)
		}
	}
	return nil
}
