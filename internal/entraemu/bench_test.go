package entraemu

import (
	"testing"
)

// BenchmarkDeltaRounds20k measures what a full sync asks of the emulator:
// the initial users and groups delta rounds (with members) of a 20,000-user
// tenant, and the users list at 999 a page.
func BenchmarkDeltaRounds20k(b *testing.B) {
	_, s := start(b, Options{Users: 20000, Groups: 1000, Seed: 1})
	cl := newClient(b, s)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		users := walk(b, cl, "/v1.0/users/delta?$select=id,displayName,userPrincipalName,mail,accountEnabled", nil)
		groups := walk(b, cl, "/v1.0/groups/delta?$select=id,displayName,members", nil)
		list, _ := cl.all("/v1.0/users?$top=999")
		if len(users.entries) != 20000 || len(groups.entries) < 1000 || len(list) != 20000 {
			b.Fatalf("%d users, %d group entries, %d listed", len(users.entries), len(groups.entries), len(list))
		}
	}
}
