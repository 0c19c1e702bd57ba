package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/store"
)

// A user search (directory.SearchWords, QueryWords) reads user_words: a
// row per word of a user, indexed by (account_id, word), so the users with
// a word beginning so are an index range. Every write of a user keeps its
// words: a create adds them, an update whose username, email or display
// name changed (search_key differs from words_key) rewrites them.

// wordsBatch is how many words one INSERT writes (4 values each).
const wordsBatch = 200

// addUserWords stores the words of users just created.
func (t *tx) addUserWords(ctx context.Context, users ...*directory.User) error {
	args := make([]any, 0, 4*wordsBatch)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		err := t.c.insertRows(ctx, `INSERT INTO user_words (user_id, word, account_id, username_key) VALUES `, "(?, ?, ?, ?)", n, wordsBatch,
			"ON CONFLICT DO NOTHING", args)
		args, n = args[:0], 0
		return err
	}
	for _, u := range users {
		for _, w := range directory.SearchWords(u.UserAttributes) {
			args = append(args, u.ID, w, u.AccountID, key(u.Username))
			if n++; n == wordsBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// rewriteUserWords replaces the user's words with those of its attributes.
func (t *tx) rewriteUserWords(ctx context.Context, u *directory.User) error {
	if _, err := t.c.exec(ctx, `DELETE FROM user_words WHERE user_id = ?`, u.ID); err != nil {
		return err
	}
	return t.addUserWords(ctx, u)
}

// wordsStale reports whether the user's stored words are not those of a's
// username, email and display name.
func (t *tx) wordsStale(ctx context.Context, u directory.User) (bool, error) {
	var wordsKey string
	err := t.c.row(ctx, `SELECT words_key FROM users WHERE id = ? AND account_id = ?`, u.ID, u.AccountID).Scan(&wordsKey)
	if err != nil {
		return false, err
	}
	return wordsKey != searchKey(u.UserAttributes), nil
}

// searchKey is what search_key (and words_key) hold: the username, email
// and display name lowercased.
func searchKey(a directory.UserAttributes) string {
	return key(a.Username) + "\n" + key(a.Email) + "\n" + key(a.DisplayName)
}

// fillStaleWords writes the words of the users a previous release added
// or renamed (their words_key is not their search_key), a batch a
// transaction.
func (s *Store) fillStaleWords(ctx context.Context) error {
	for {
		rows, err := s.reader.c.query(ctx, `SELECT id, account_id, username, email, display_name FROM users
			WHERE words_key <> search_key LIMIT 500`)
		if err != nil {
			return fmt.Errorf("sqlstore: user words: %w", err)
		}
		var stale []*directory.User
		for rows.Next() {
			u := &directory.User{}
			if err := rows.Scan(&u.ID, &u.AccountID, &u.Username, &u.Email, &u.DisplayName); err != nil {
				rows.Close()
				return fmt.Errorf("sqlstore: user words: %w", err)
			}
			stale = append(stale, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(stale) == 0 {
			return err
		}
		err = s.Update(ctx, func(stx store.Tx) error {
			t := stx.(*tx)
			for _, u := range stale {
				if err := t.rewriteUserWords(ctx, u); err != nil {
					return err
				}
				if _, err := t.c.exec(ctx, `UPDATE users SET words_key = ? WHERE id = ?`, searchKey(u.UserAttributes), u.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlstore: user words: %w", err)
		}
	}
}

// denseWords is where a search word stops being rare: below it, the
// search reads the users the word's index range holds, in username order
// (candidates), and keeps those that pass the other filters; from it on,
// it walks the users in username order and keeps those with the words,
// which finds a page's worth soon when so many have them.
var denseWords = 30000

// A search is the word whose users lead (when one is rare enough) and the
// condition the other words add.
type search struct {
	lead     string
	cond     string
	condArgs []any
}

// userSearch is what a listing of users adds for the search text q
// (directory.QueryWords).
func (r reader) userSearch(ctx context.Context, accountID, q string) (search, error) {
	var s search
	words := directory.QueryWords(q)
	if len(words) == 0 {
		s.cond = ` AND 1 = 0`
		return s, nil
	}
	// The rarest word leads when it is rare enough; a word is counted only
	// as far as the rarest so far.
	lead, fewest := -1, denseWords
	for i, w := range words {
		var n int
		err := r.c.row(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM user_words WHERE account_id = ? AND word >= ? AND word < ? LIMIT ?) w`,
			accountID, w, wordEnd(w), fewest).Scan(&n)
		if err != nil {
			return s, err
		}
		if n < fewest {
			lead, fewest = i, n
		}
	}
	var b strings.Builder
	for i, w := range words {
		if i == lead {
			s.lead = w
			continue
		}
		b.WriteString(` AND EXISTS (SELECT 1 FROM user_words w WHERE w.user_id = users.id AND w.word >= ? AND w.word < ?)`)
		s.condArgs = append(s.condArgs, w, wordEnd(w))
	}
	s.cond = b.String()
	return s, nil
}

// candidates are the users with a word beginning with w, at most limit (0:
// all), in username order after the cursor (afterKey, afterID) when
// afterKey is not "": their ids and the cursor of the last, and whether
// more may follow. The index holds them in that order for each word; one
// user with two such words is one candidate.
func (r reader) candidates(ctx context.Context, accountID, w, afterKey, afterID string, limit int) (ids []any, lastKey, lastID string, more bool, err error) {
	q := `SELECT DISTINCT username_key, user_id FROM user_words WHERE account_id = ? AND word >= ? AND word < ?`
	args := []any{accountID, w, wordEnd(w)}
	if afterKey != "" {
		q += ` AND username_key >= ? AND (username_key > ? OR user_id > ?)`
		args = append(args, afterKey, afterKey, afterID)
	}
	q += ` ORDER BY username_key, user_id LIMIT ?`
	args = append(args, pageLimit(limit)-1)
	if limit <= 0 {
		args[len(args)-1] = pageLimit(0)
	}
	rows, err := r.c.query(ctx, q, args...)
	if err != nil {
		return nil, "", "", false, err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&lastKey, &lastID); err != nil {
			return nil, "", "", false, err
		}
		ids = append(ids, lastID)
	}
	return ids, lastKey, lastID, limit > 0 && len(ids) == limit, rows.Err()
}

// wordEnd is the least string after every word beginning with w: the
// upper bound of its index range (words are valid UTF-8, compared by
// bytes).
func wordEnd(w string) string { return w + "\U0010FFFF" }
