-- Contract: mail_settings.notifications has held nothing since who is
-- notified moved into the account's settings (account_settings, made by
-- the expand 00008). On SQLite, where one machine runs one release, a
-- contract migration runs when the database opens; on PostgreSQL only when
-- "dirsync db contract" asks (see the PostgreSQL migration).

-- +goose Up
ALTER TABLE mail_settings DROP COLUMN notifications;

-- +goose Down
ALTER TABLE mail_settings ADD COLUMN notifications TEXT NOT NULL DEFAULT '';
