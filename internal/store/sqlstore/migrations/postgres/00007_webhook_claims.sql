-- Webhook delivery across replicas: one process at a time delivers to an
-- endpoint, holding its claim (lease_holder until lease_until, renewed
-- while it delivers; a dead process's claim runs out). Each delivery
-- attempt keeps, beside its full error for administrators, a summary
-- without internal detail for the other roles.

-- +goose Up
ALTER TABLE webhooks ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE webhook_deliveries ADD COLUMN error_summary TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN error_summary;
ALTER TABLE webhooks DROP COLUMN lease_until;
ALTER TABLE webhooks DROP COLUMN lease_holder;
