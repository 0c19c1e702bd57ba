-- Contract: mail_settings.notifications has held nothing since who is
-- notified moved into the account's settings (account_settings, made by
-- the expand 00008); the release that moved it stopped reading and writing
-- the column. A replica of an earlier release still SELECTs and INSERTs
-- it, so this migration (its name ends in _contract) does not run when a
-- replica starts: "dirsync db contract" runs it once every replica runs a
-- release that no longer uses the column (README, Deploying).

-- +goose Up
ALTER TABLE mail_settings DROP COLUMN notifications;

-- +goose Down
ALTER TABLE mail_settings ADD COLUMN notifications TEXT COLLATE "C" NOT NULL DEFAULT '';
