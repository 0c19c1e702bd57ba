-- SQLite moves its staging tables to a database of its own (stagedb.go);
-- PostgreSQL reclaims a dropped staging's space with VACUUM and keeps them.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
