-- A source's scope rules and import options (package scope), as JSON.

-- +goose Up
ALTER TABLE sources ADD COLUMN settings TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sources DROP COLUMN settings;
