package entraemu_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/dirsync/dirsync/internal/entraemu"
)

// A client authenticates with azidentity against the emulator, as against
// Entra ID with a custom authority, and calls Graph at the same URL.
func Example() {
	tenant, err := entraemu.New(entraemu.Options{Users: 50, Groups: 5, Seed: 1, Throttle: true})
	if err != nil {
		panic(err)
	}
	srv, err := tenant.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	creds := srv.Credentials()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CAPEM())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	cred, err := azidentity.NewClientSecretCredential(creds.TenantID, creds.ClientID, creds.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: creds.AuthorityURL}, Transport: hc},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		panic(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{creds.GraphURL + "/.default"}})
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest("GET", creds.GraphURL+"/v1.0/users?$top=3&$select=id,userPrincipalName", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := hc.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var page struct {
		Value    []map[string]any `json:"value"`
		NextLink string           `json:"@odata.nextLink"`
	}
	json.NewDecoder(resp.Body).Decode(&page)
	fmt.Println(resp.StatusCode, len(page.Value), page.NextLink != "")
	// Output: 200 3 true
}
