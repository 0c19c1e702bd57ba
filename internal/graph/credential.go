package graph

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// credentialOptions are the azidentity client options every credential of
// this package shares: the cloud's authority, the shared HTTP client (so
// the extra CAs apply to the login as well), and no retries of azcore's
// own, because Client retries token requests within its per-call budget,
// with its injected clock, and counts them.
func credentialOptions(c Cloud, hc *http.Client) azcore.ClientOptions {
	if hc == nil {
		hc = http.DefaultClient
	}
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: c.AuthorityURL},
		Transport: recordingTransport{hc: hc},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// NewSecretCredential returns a client-secret credential for the
// application clientID in tenant. The secret stays inside azidentity.
// Managed identity or workload identity federation are other
// azcore.TokenCredentials and plug into Options.Credential the same way.
func NewSecretCredential(c Cloud, tenant, clientID, secret string, hc *http.Client) (azcore.TokenCredential, error) {
	if secret == "" {
		return nil, errors.New("graph: client secret is empty")
	}
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            credentialOptions(c, hc),
		DisableInstanceDiscovery: c.Custom,
	})
	if err != nil {
		return nil, fmt.Errorf("graph: client secret credential: %w", err)
	}
	return cred, nil
}

// NewCertificateCredential returns a client-certificate credential from PEM
// (or PKCS#12) data holding the certificate and its unencrypted private key.
func NewCertificateCredential(c Cloud, tenant, clientID string, certAndKey []byte, hc *http.Client) (azcore.TokenCredential, error) {
	certs, key, err := azidentity.ParseCertificates(certAndKey, nil)
	if err != nil {
		// ParseCertificates' messages name what is missing, never the key.
		return nil, fmt.Errorf("graph: client certificate: %w", err)
	}
	cred, err := azidentity.NewClientCertificateCredential(tenant, clientID, certs, key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions:            credentialOptions(c, hc),
		DisableInstanceDiscovery: c.Custom,
		// Sending the chain (x5c) lets subject-name/issuer authentication work.
		SendCertificateChain: true,
	})
	if err != nil {
		return nil, fmt.Errorf("graph: client certificate credential: %w", err)
	}
	return cred, nil
}
