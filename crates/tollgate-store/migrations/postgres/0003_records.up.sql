-- Records that nobody may quietly change: usage (seed 000 usage_logs + seed 003 llm_metrics),
-- the audit log (seed 003 audit_logs + seed 004 audit_logs), and AI-use events reported by devices
-- (seed 001 log_entries). Rows leave only through the recognised erasure/retention path: a row in
-- erasure_context written by the same transaction (see docs/data-model.md).

CREATE TABLE erasure_context (
    txid         bigint PRIMARY KEY DEFAULT txid_current(),
    reason       text NOT NULL CHECK (reason IN ('erasure', 'retention')),
    requested_by text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);

CREATE FUNCTION tollgate_reject_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM erasure_context WHERE txid = txid_current()) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % is refused (rows leave only through tollgate erase or retention)',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    device_id     text NOT NULL CHECK (length(device_id) BETWEEN 1 AND 200),
    user_id       uuid REFERENCES users(id) ON DELETE SET NULL,
    device_type   text NOT NULL CHECK (device_type IN ('browser', 'desktop', 'cli')),
    name          text,
    token_hash    text,
    registered_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    last_seen     timestamptz,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT uq_devices_token_hash UNIQUE (token_hash)
);
CREATE UNIQUE INDEX ix_devices_device_id ON devices (tenant_id, device_id);
CREATE INDEX ix_devices_user_id ON devices (user_id);

CREATE TABLE firewall_configs (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    monitored_tools        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(monitored_tools) = 'array'),
    sensitivity_thresholds jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(sensitivity_thresholds) = 'object'),
    custom_patterns        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(custom_patterns) = 'array'),
    log_retention_days     integer NOT NULL DEFAULT 90 CHECK (log_retention_days BETWEEN 30 AND 365),
    updated_by             uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at             timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);
CREATE UNIQUE INDEX ix_firewall_configs_organization_id ON firewall_configs (tenant_id);
CREATE INDEX idx_firewall_configs_patterns ON firewall_configs USING gin (custom_patterns);

CREATE TABLE ai_use_events (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    device_id             uuid REFERENCES devices(id) ON DELETE CASCADE,
    subject_id            uuid,
    occurred_at           timestamptz NOT NULL,
    tool_name             text NOT NULL,
    tool_type             text NOT NULL CHECK (tool_type IN ('web', 'desktop', 'cli')),
    domain                text,
    action                text NOT NULL DEFAULT 'prompt',
    risk_level            text NOT NULL CHECK (risk_level IN ('green', 'amber', 'red')),
    prompt_length         integer NOT NULL DEFAULT 0 CHECK (prompt_length >= 0),
    detected_entity_types jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(detected_entity_types) = 'array'),
    entity_count          integer NOT NULL DEFAULT 0 CHECK (entity_count >= 0),
    was_sanitized         boolean NOT NULL DEFAULT false,
    log_metadata          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(log_metadata) = 'object'),
    created_at            timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);
CREATE INDEX ix_ai_use_events_occurred_at ON ai_use_events (occurred_at);
CREATE INDEX ix_ai_use_events_device_id ON ai_use_events (device_id);
CREATE INDEX ix_ai_use_events_subject_id ON ai_use_events (subject_id);
CREATE INDEX ix_ai_use_events_tool_name ON ai_use_events (tool_name);
CREATE INDEX ix_ai_use_events_risk_level ON ai_use_events (risk_level);
CREATE INDEX idx_ai_use_events_occurred_risk ON ai_use_events (occurred_at, risk_level);
CREATE INDEX idx_ai_use_events_subject_occurred ON ai_use_events (subject_id, occurred_at);
CREATE INDEX idx_ai_use_events_tool_occurred ON ai_use_events (tool_name, occurred_at);
CREATE INDEX idx_ai_use_events_tenant_occurred ON ai_use_events (tenant_id, occurred_at);
CREATE INDEX idx_ai_use_events_metadata ON ai_use_events USING gin (log_metadata);

-- The id is the request id the caller saw (x-request-id, UUID v7, always Tollgate's own): one
-- key serves correlation and replay de-duplication, and rows sort by time.
CREATE TABLE usage_logs (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    app_id              uuid REFERENCES apps(id) ON DELETE CASCADE,
    api_key_id          uuid REFERENCES api_keys(id) ON DELETE CASCADE,
    team_id             uuid,
    subject_id          uuid,
    device_id           uuid,
    provider            text NOT NULL,
    model               text NOT NULL,
    endpoint            text NOT NULL DEFAULT 'chat' CHECK (endpoint IN ('chat', 'messages', 'embeddings', 'device')),
    prompt_length       integer NOT NULL DEFAULT 0 CHECK (prompt_length >= 0),
    pii_detected        boolean NOT NULL DEFAULT false,
    prompt_tokens       integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens   integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    tokens_used         integer NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
    cost_micros         bigint NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    credits_deducted    bigint NOT NULL DEFAULT 0 CHECK (credits_deducted >= 0),
    latency_ms          integer,
    upstream_latency_ms integer,
    response_status     text NOT NULL CHECK (response_status IN ('success', 'error')),
    error_type          text,
    http_status         smallint,
    streamed            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT ck_usage_logs_error CHECK ((response_status = 'error') = (error_type IS NOT NULL))
);
CREATE INDEX idx_usage_logs_license ON usage_logs (api_key_id, created_at DESC);
CREATE INDEX idx_usage_logs_app ON usage_logs (app_id, created_at DESC);
CREATE INDEX idx_usage_logs_tenant ON usage_logs (tenant_id, created_at DESC);
CREATE INDEX idx_usage_logs_date ON usage_logs (created_at DESC);
CREATE INDEX idx_usage_logs_provider ON usage_logs (provider, created_at DESC);

CREATE TABLE audit_log (
    id             uuid PRIMARY KEY,
    tenant_id      uuid REFERENCES tenants(id) ON DELETE CASCADE,
    seq            bigint NOT NULL CHECK (seq >= 1),
    actor_type     text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'device', 'system')),
    actor_id       uuid,
    action         text NOT NULL,
    resource_type  text NOT NULL,
    resource_id    text,
    before         jsonb,
    after          jsonb,
    details        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    ip_address     text,
    user_agent     text,
    correlation_id text,
    created_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    checksum       text NOT NULL CHECK (length(checksum) = 64)
);
-- tenant_id NULL is the system log; each log numbers its entries from 1 without gaps.
CREATE UNIQUE INDEX uq_audit_log_seq
    ON audit_log (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), seq);
CREATE INDEX ix_audit_logs_user_id ON audit_log (actor_id);
CREATE INDEX ix_audit_logs_action ON audit_log (action);
CREATE INDEX ix_audit_logs_entity_id ON audit_log (resource_id);
CREATE INDEX ix_audit_logs_timestamp ON audit_log (created_at);
CREATE INDEX ix_audit_logs_user_id_timestamp ON audit_log (actor_id, created_at);
CREATE INDEX ix_audit_logs_entity_type_entity_id ON audit_log (resource_type, resource_id);
CREATE INDEX ix_audit_logs_correlation_id ON audit_log (correlation_id);
CREATE INDEX idx_audit_log_details ON audit_log USING gin (details);

CREATE TRIGGER trg_usage_logs_append_only BEFORE UPDATE OR DELETE ON usage_logs
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_record_change();
CREATE TRIGGER trg_audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_record_change();
CREATE TRIGGER trg_ai_use_events_append_only BEFORE UPDATE OR DELETE ON ai_use_events
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_record_change();
-- TRUNCATE skips row triggers; it is refused outright (retention deletes rows, never truncates).
CREATE TRIGGER trg_usage_logs_no_truncate BEFORE TRUNCATE ON usage_logs
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_record_change();
CREATE TRIGGER trg_audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_record_change();
CREATE TRIGGER trg_ai_use_events_no_truncate BEFORE TRUNCATE ON ai_use_events
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_record_change();
CREATE TRIGGER trg_devices_updated_at BEFORE UPDATE ON devices FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_firewall_configs_updated_at BEFORE UPDATE ON firewall_configs FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();

-- Rollups (seed 003 llm_metrics_hourly / llm_metrics_daily). Absent dimensions are the nil uuid so
-- that every bucket has one key; recomputed idempotently with INSERT ... ON CONFLICT DO UPDATE.
CREATE TABLE usage_hourly (
    bucket_start      timestamptz NOT NULL,
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    team_id           uuid NOT NULL,
    app_id            uuid NOT NULL,
    model             text NOT NULL,
    request_count     bigint NOT NULL DEFAULT 0,
    error_count       bigint NOT NULL DEFAULT 0,
    pii_count         bigint NOT NULL DEFAULT 0,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    tokens_used       bigint NOT NULL DEFAULT 0,
    cost_micros       bigint NOT NULL DEFAULT 0,
    credits_deducted  bigint NOT NULL DEFAULT 0,
    latency_ms_sum    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, tenant_id, team_id, app_id, model)
);
CREATE INDEX idx_usage_hourly_tenant ON usage_hourly (tenant_id, bucket_start);

CREATE TABLE usage_daily (
    day               date NOT NULL,
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    grain             text NOT NULL CHECK (grain IN ('team_model', 'subject', 'api_key')),
    dim_id            uuid NOT NULL,
    model             text NOT NULL,
    request_count     bigint NOT NULL DEFAULT 0,
    error_count       bigint NOT NULL DEFAULT 0,
    pii_count         bigint NOT NULL DEFAULT 0,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    tokens_used       bigint NOT NULL DEFAULT 0,
    cost_micros       bigint NOT NULL DEFAULT 0,
    credits_deducted  bigint NOT NULL DEFAULT 0,
    latency_ms_sum    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, tenant_id, grain, dim_id, model)
);
CREATE INDEX idx_usage_daily_tenant ON usage_daily (tenant_id, grain, day);

CREATE TABLE system_metrics (
    id          uuid PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    host        text NOT NULL,
    metric_name text NOT NULL,
    value       double precision NOT NULL,
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object')
);
CREATE INDEX idx_system_metrics_name_time ON system_metrics (metric_name, recorded_at DESC);
CREATE INDEX idx_system_metrics_labels ON system_metrics USING gin (labels);
