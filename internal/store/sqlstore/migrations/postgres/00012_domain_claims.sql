-- One domain, one source: the directory a source reads (an Entra tenant's
-- id, an AD domain's objectSid), claimed by one source in the whole
-- deployment. The key is the primary key, so two transactions claiming
-- the same directory cannot both commit; a source holds one claim; a
-- removed source's claim goes with it. names are what settings may call
-- the directory (its verified domains, DNS name), one per line.

-- +goose Up
CREATE TABLE domain_claims (
    claim_key   TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    source_id   TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES sources (id) ON DELETE CASCADE,
    names       TEXT NOT NULL DEFAULT '',
    claimed_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE domain_claims;
