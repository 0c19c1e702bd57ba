-- Users search by word prefix (directory.SearchWords): user_words holds
-- each user's words with its username_key, and (account_id, word,
-- username_key) gives the users with a word beginning so, in username
-- order, from an index at any directory size, where a substring match of
-- search_key read every user. words_key is the search_key the words were
-- written for: a user a previous release added or renamed (it writes
-- search_key only) differs, and the store fills its words in when it
-- opens (users_words_stale finds them without reading every user).

-- +goose Up
CREATE TABLE user_words (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    word         TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (user_id, word)
) WITHOUT ROWID;
CREATE INDEX user_words_word ON user_words (account_id, word, username_key, user_id);
ALTER TABLE users ADD COLUMN words_key TEXT NOT NULL DEFAULT '';
CREATE INDEX users_words_stale ON users (account_id) WHERE words_key <> search_key;

-- +goose Down
DROP INDEX users_words_stale;
ALTER TABLE users DROP COLUMN words_key;
DROP TABLE user_words;
