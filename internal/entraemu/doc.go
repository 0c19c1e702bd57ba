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
// something a real tenant may also do, and it errs on the strict side: delta
// pages split large groups, the same object may appear more than once in a
// round, throttling follows the published resource-unit budgets.
//
// A Tenant holds the directory in memory and is safe for concurrent use. New
// generates a deterministic tenant from a seed; Start serves it. The admin
// methods on Tenant (CreateUser, DeleteUser, AddMember...) change the tenant
// as an administrator would, and they feed the same change log that delta
// queries read, exactly as the Graph write endpoints do. Faults (throttling,
// 5xx, connection resets, expired delta tokens) can be injected for tests.
//
// Microsoft documents used (see testdata/README.md for the examples typed
// from them): "Use delta query to track changes in Microsoft Graph data",
// "user: delta", "group: delta", "Get incremental changes for groups",
// "Microsoft Graph service-specific throttling limits" (identity and access),
// "Combine multiple HTTP requests using JSON batching", "Advanced query
// capabilities on Microsoft Entra ID objects", "Microsoft Entra
// authentication and authorization error codes".
package entraemu
