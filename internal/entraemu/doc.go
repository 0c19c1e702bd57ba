// Package entraemu is an emulated Microsoft Entra ID tenant: the login
// endpoints that Microsoft's auth libraries (MSAL, azidentity) call, and the
// Microsoft Graph v1.0 directory API (users, groups, memberships, delta
// queries, JSON batching), served over HTTPS from one listener.
//
// It is a product feature, not a test double: `dirsync emulate entra`, the
// demo, dirsync's own tests and users' integration tests all run against it,
// so it follows what Microsoft documents rather than what dirsync's client
// happens to expect. Where the emulator has to choose (page sizes, the order
// objects come back in, error texts Microsoft does not publish) it picks
// something a real tenant may also do, and errs on the strict side: delta
// pages split large groups, the same object may appear in two rounds,
// throttling follows the published resource-unit budgets.
//
// A Tenant holds the directory in memory and is safe for concurrent use. New
// generates a deterministic tenant from a seed; Start serves it. The admin
// methods on Tenant (CreateUser, DeleteUser, AddMember...) change the tenant
// as an administrator would, and they feed the same change log that delta
// queries read, exactly as the Graph write endpoints do. Faults (5xx, 429,
// connection resets), expired access and delta tokens, latency and
// throttling can be injected for tests; Options.Clock (a clock.Fake in
// tests) is the time of all of them.
//
// # Packages
//
// This package composes the emulator; each seam is a package of its own:
//
//	model     the directory objects, permission names, ids and Graph's error
//	tenant    the directory: objects, memberships, deleted items, the change log
//	gen       the seeded generator of users, groups and other objects
//	schema    each entity type's properties: JSON, $select, $filter, writes
//	odata     $filter, $search, $orderby, $top, $count, skip tokens (pure)
//	graph     the Graph routes (a net/http pattern table), delta, $batch
//	login     token issuance and validation, OIDC discovery, app registrations
//	throttle  resource-unit budgets and the write quota, as HTTP middleware
//	faults    injected failures, as HTTP middleware
//	wire      responses, Graph's error body, request ids
//	jsonw     the hand-written JSON writer
//	stats     request counters
//
// # Login (https://HOST/{tenant}, tenant by id or domain)
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   (and the v1 form)
//	GET  /common/discovery/instance                        instance discovery
//	GET  /{tenant}/discovery/v2.0/keys                     signing keys
//	POST /{tenant}/oauth2/v2.0/token                       client_credentials with
//	     client_secret (post or basic) or client_assertion (RS256/PS256, x5t or x5t#S256)
//
// Errors use Microsoft's body ({"error", "error_description", "error_codes",
// "timestamp", "trace_id", "correlation_id", "error_uri"}) and AADSTS codes:
// 90002 unknown tenant, 700016 unknown app, 7000215 wrong secret, 7000222
// expired secret, 700027 unknown certificate or bad signature, 700024
// expired assertion, 1002012 scope without /.default, 500011 a resource
// other than Graph. Access tokens are RS256 JWTs with a roles claim (absent
// for an app without admin consent) and expire after Options.TokenLifetime.
//
// # Graph (https://HOST/v1.0)
//
//	GET    /users, /users/$count, /users/{id|upn}, /users/delta
//	GET    /users/{id}/memberOf, /users/{id}/transitiveMemberOf
//	POST   /users; PATCH, DELETE /users/{id}
//	GET    /groups, /groups/$count, /groups/{id}, /groups/delta
//	GET    /groups/{id}/members, /groups/{id}/transitiveMembers (with OData
//	       casts such as /members/microsoft.graph.user, and /$count)
//	GET    /groups/{id}/memberOf, /groups/{id}/transitiveMemberOf
//	POST   /groups; PATCH, DELETE /groups/{id}
//	POST   /groups/{id}/members/$ref; DELETE /groups/{id}/members/{id}/$ref
//	GET    /directory/deletedItems/microsoft.graph.user|group, /directory/deletedItems/{id}
//	POST   /directory/deletedItems/{id}/restore; DELETE /directory/deletedItems/{id}
//	GET    /servicePrincipals, /devices, /contacts (each also /$count,
//	       /delta, /{id}, /{id}/memberOf), /applications, /directoryRoles
//	       (and /{id}/members)
//	GET    /directoryObjects/{id}, /organization, /domains, /subscribedSkus
//	POST   /$batch
//
// Paths are matched as Graph does: ids in any case, the graph. cast alias
// for microsoft.graph., delta() for delta. Request bodies may be
// gzip-compressed (Content-Encoding: gzip, as Microsoft's SDKs send them);
// another encoding answers 415. Inside $batch, each step runs through the
// same routes, middleware and permission checks, "body": null is no body,
// and step URLs are percent-decoded.
//
// Writes are as strict as Entra's (package tenant's policy.go): the required
// properties of "Create user" and "Create group", UPN characters and
// lengths and a verified domain, unique UPN, onPremisesImmutableId, and mail
// nickname among mail recipients, read-only properties refused, Entra's
// password policy (passwordPolicies DisableStrongPassword lifts the
// classes), no mail-enabled security groups or distribution lists through
// Graph, deleted users and Microsoft 365 groups in deleted items for 30
// days; each refusal is Graph's documented error body (testdata/README.md).
// The generated write app (AdminApp, write_app in the credentials file) has
// User.ReadWrite.All, Group.ReadWrite.All and Domain.Read.All; the sync app only reads and
// gets 403 Authorization_RequestDenied on writes.
//
// Query options: $select (the documented default property sets without it),
// $top 1..999 (default 100) with @odata.nextLink and an opaque $skiptoken,
// $filter (eq, ne, in, startsWith, endsWith, not, and, or, any(),
// /$count), $search ("property:text", tokenized on displayName and
// description), $count, $orderby on displayName (and userPrincipalName), and
// $expand=members (20 inline); the advanced ones need ConsistencyLevel:
// eventual (and $count=true), answering Microsoft's documented errors
// otherwise. Errors are {"error":{"code","message","innerError":{"date",
// "request-id","client-request-id"}}}; every response carries request-id and
// client-request-id headers.
//
// # Delta
//
// As "user: delta", "group: delta" and "Use delta query to track changes"
// document: @odata.nextLink pages then an @odata.deltaLink; tokens carry the
// first request's $select and $filter (id eq ..., up to 50); $top is
// ignored and user pages hold 200; @removed with reason "changed" (in deleted
// items) or "deleted" (gone), in the initial round too; unchanged properties
// in later rounds, or with Prefer: return=minimal only the changed ones
// (null for a cleared one); properties never set are omitted; groups with
// members selected carry members@delta (@odata.type, id, and @removed for a
// removed member), and a group whose members exceed the page budget
// continues in further entries on following pages; $deltatoken=latest
// returns only a deltaLink. A token older than 7 days, one of another
// emulator run, or one before the kept change log answers 410 Gone with
// syncStateNotFound; after ExpireDeltaTokens, 410 with resyncRequired;
// an initial round not finished within 30 days, 410 resyncRequired. The 410
// carries a Location header: the initial request with an empty $deltatoken.
//
// # Throttling
//
// With Options.Throttle (off in the zero value; the CLI turns it on), a
// token bucket per app in resource units per 10 seconds: 3,500 / 5,000 /
// 8,000 for tenants under 50, up to 500 and over 500 users, with Microsoft's
// costs (GET users 2, members 3, transitiveMembers 5, subscribedSkus 3,
// others 1; $select -1, $expand +1, $top under 20 -1; at least 1) and the
// write quota of 3,000 per 150 seconds. Responses carry x-ms-resource-unit,
// and x-ms-throttle-limit-percentage above 80%; a 429 carries Retry-After,
// x-ms-throttle-scope and x-ms-throttle-information. Each $batch request is
// charged on its own.
//
// Microsoft documents used (see testdata/README.md for the examples typed
// from them): "Use delta query to track changes in Microsoft Graph data",
// "user: delta", "group: delta", "Get incremental changes for users" and
// "for groups", "Microsoft Graph service-specific throttling limits"
// (identity and access), "Combine multiple HTTP requests using JSON
// batching", "Advanced query capabilities on directory objects", "OAuth 2.0
// client credentials flow", "Restore deleted item".
package entraemu
