package sqlstore

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// TestUserSearch: a search finds exactly the users directory.SearchWords
// and QueryWords say, whether a rare word leads or the users are walked in
// order (a small denseWords); a rename, a purge and a user a previous
// release wrote (no words) are searched as they are now.
func TestUserSearch(t *testing.T) {
	opens := map[string]func(t *testing.T) *Store{"sqlite": func(t *testing.T) *Store { return newSQLite(t) }}
	if os.Getenv(postgresEnv) != "" {
		opens["postgres"] = func(t *testing.T) *Store { return newPostgres(t) }
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) { testUserSearch(t, open(t)) })
	}
}

func testUserSearch(t *testing.T, s *Store) {
	ctx := t.Context()
	acc, other := directory.Account{Name: "acme"}, directory.Account{Name: "other"}
	people := []directory.UserAttributes{
		{Username: "john.smith@contoso.com", Email: "John.Smith@contoso.com", DisplayName: "John Smith"},
		{Username: "rmcdonald@contoso.com", DisplayName: "Ronald McDonald"},
		{Username: "obrien@contoso.com", Email: "sean.obrien@mail.contoso.com", DisplayName: "Seán O'Brien"},
		{Username: "jsmithers@contoso.com", DisplayName: "Jane Smithers"},
		{Username: "zoë@contoso.com", DisplayName: "Zoë Ångström"},
	}
	for i := range 40 {
		people = append(people, directory.UserAttributes{Username: fmt.Sprintf("user-%03d@contoso.com", i), DisplayName: fmt.Sprintf("User %03d", i)})
	}
	var users []directory.User
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, a := range []*directory.Account{&acc, &other} {
			if err := tx.CreateAccount(ctx, a); err != nil {
				return err
			}
		}
		for _, p := range people {
			u := directory.User{AccountID: acc.ID, UserAttributes: p}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			users = append(users, u)
		}
		// Another account's John is never found.
		return tx.CreateUser(ctx, &directory.User{AccountID: other.ID, UserAttributes: people[0]})
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, q string) {
		t.Helper()
		var want []string
		for _, u := range users {
			if found(u.UserAttributes, q) {
				want = append(want, u.Username)
			}
		}
		var got []string
		for after := ""; ; {
			page, err := s.Users(ctx, acc.ID, store.UserQuery{Search: q, Limit: 7, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page.Items {
				got = append(got, u.Username)
			}
			if after = page.Next; after == "" {
				break
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("search %q found %q, want %q", q, got, want)
		}
	}
	queries := []string{"smi", "SMITH", "john sm", "smith john", "j.smith@con", "johnsm", "mith", "mcdo", "McDo", "o'bri",
		"seán", "sean", "ång", "zoë", "user", "user-01", "user 3", "contoso", "c", "u 0", "@@", "nobody", "user-039@contoso.com"}
	for _, dense := range []int{15000, 3} {
		t.Run(fmt.Sprint("dense-", dense), func(t *testing.T) {
			defer func(d int) { denseWords = d }(denseWords)
			denseWords = dense
			for _, q := range queries {
				check(t, q)
			}
		})
	}
	if t.Failed() {
		return
	}

	// A rename: found by the new name, not the old.
	john := users[0]
	john.DisplayName, john.Username = "Johnny Walker", "jwalker@contoso.com"
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, john) }); err != nil {
		t.Fatal(err)
	}
	users[0] = john
	for _, q := range []string{"johnny", "walker", "smith", "john sm", "jwal"} {
		check(t, q)
	}
	// A purge takes the words along.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PurgeUser(ctx, acc.ID, users[1].ID) }); err != nil {
		t.Fatal(err)
	}
	users = slices.Delete(users, 1, 2)
	check(t, "mcdonald")
	var left int
	if err := s.db.QueryRowContext(ctx, s.flavor.rebind(`SELECT COUNT(*) FROM user_words WHERE user_id = ?`), users[0].ID).Scan(&left); err != nil || left == 0 {
		t.Fatalf("words of a user: %d, %v", left, err)
	}

	// A previous release renames a user and adds one (it writes
	// search_key, not the words): the store finds them once it reopens.
	prev := func(q string, args ...any) {
		t.Helper()
		if _, err := s.db.ExecContext(ctx, s.flavor.rebind(q), args...); err != nil {
			t.Fatal(err)
		}
	}
	jane := users[2]
	jane.DisplayName = "Jane Doe"
	prev(`UPDATE users SET display_name = ?, search_key = ? WHERE id = ?`, jane.DisplayName, "jsmithers@contoso.com\n\njane doe", jane.ID)
	users[2] = jane
	added := directory.User{ID: "prev-release-user", UserAttributes: directory.UserAttributes{Username: "kim.lee@contoso.com", DisplayName: "Kim Lee"}}
	prev(`INSERT INTO users (id, account_id, username, username_key, search_key, display_name, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)`, added.ID, acc.ID, added.Username, added.Username, "kim.lee@contoso.com\n\nkim lee", added.DisplayName,
		timeArg(s.now()), timeArg(s.now()))
	users = append(users, added)
	if err := s.fillStaleWords(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"doe", "jane", "smithers", "kim", "lee kim"} {
		check(t, q)
	}
}

// found applies directory's rule to one user.
func found(a directory.UserAttributes, q string) bool {
	qw := directory.QueryWords(q)
	words := directory.SearchWords(a)
	for _, w := range qw {
		if !slices.ContainsFunc(words, func(v string) bool { return strings.HasPrefix(v, w) }) {
			return false
		}
	}
	return len(qw) > 0
}
