-- A gateway key may be limited to some of the model table's public names. NULL means every
-- model the gateway serves; an empty array means none (a key parked without being revoked).
-- SQLite cannot add a table constraint to an existing table; the column check carries both
-- rules of the PostgreSQL migration.
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT
    CHECK (allowed_models IS NULL OR (kind = 'gateway' AND json_valid(allowed_models)
        AND json_type(allowed_models) = 'array'));
