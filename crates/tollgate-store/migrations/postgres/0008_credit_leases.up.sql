-- Credits a gateway process holds for its keys (seed 000 licences). A process takes credits
-- from api_keys.credits_remaining into its lease in one transaction, spends them in memory
-- (so a call does no database write for its credits), and the usage writer subtracts what
-- each stored call was charged, in the same transaction as its usage row. So at every commit:
-- a key's unspent credits = credits_remaining + the sum of its leases. Unused lease comes back
-- when the process is idle, stops, or starts again after a crash (its journal is replayed
-- first, then its leases are returned).
CREATE TABLE credit_leases (
    api_key_id  uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    holder      uuid NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    amount      bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
    updated_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    PRIMARY KEY (api_key_id, holder)
);
CREATE INDEX idx_credit_leases_holder ON credit_leases (holder);
CREATE INDEX idx_credit_leases_tenant ON credit_leases (tenant_id);

ALTER TABLE credit_leases ENABLE ROW LEVEL SECURITY;
ALTER TABLE credit_leases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON credit_leases
    USING (tenant_id = tollgate_current_tenant() OR tollgate_in_system_scope())
    WITH CHECK (tenant_id = tollgate_current_tenant() OR tollgate_in_system_scope());
