-- A gateway key may be limited to some of the model table's public names. NULL means every
-- model the gateway serves; an empty array means none (a key parked without being revoked).
ALTER TABLE api_keys ADD COLUMN allowed_models jsonb
    CHECK (allowed_models IS NULL OR jsonb_typeof(allowed_models) = 'array');
ALTER TABLE api_keys ADD CONSTRAINT ck_api_keys_models_gateway
    CHECK (allowed_models IS NULL OR kind = 'gateway');
