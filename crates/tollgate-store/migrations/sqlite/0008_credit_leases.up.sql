-- Credits a gateway process holds for its keys; see migrations/postgres/0008_credit_leases.up.sql.
CREATE TABLE credit_leases (
    api_key_id  TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    amount      INTEGER NOT NULL DEFAULT 0 CHECK (amount >= 0),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (api_key_id, holder)
);
CREATE INDEX idx_credit_leases_holder ON credit_leases (holder);
CREATE INDEX idx_credit_leases_tenant ON credit_leases (tenant_id);
