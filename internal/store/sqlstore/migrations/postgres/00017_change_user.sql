-- A user's change history (the console's user page, GET
-- /api/v1/users/{id}/changes): every change a run made about one user,
-- across runs, without reading every run's changes. user_id is the user a
-- change is about: the changed user, or the user a membership change added
-- to or removed from a group. Changes written before it are filled in from
-- their data. Expand only: a previous release leaves the column empty.

-- +goose Up
ALTER TABLE changes ADD COLUMN user_id TEXT COLLATE "C";
UPDATE changes SET user_id = CASE
    WHEN (data::jsonb)->>'object_kind' = 'user' THEN NULLIF((data::jsonb)->>'object_id', '')
    WHEN (data::jsonb)->'member'->>'kind' = 'user' THEN NULLIF((data::jsonb)->'member'->>'id', '')
END;
CREATE INDEX changes_user ON changes (user_id) WHERE user_id IS NOT NULL;

-- +goose Down
DROP INDEX changes_user;
ALTER TABLE changes DROP COLUMN user_id;
