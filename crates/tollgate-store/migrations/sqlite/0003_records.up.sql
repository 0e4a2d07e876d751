-- Records that nobody may quietly change: usage (seed 000 usage_logs + seed 003 llm_metrics),
-- the audit log (seed 003 audit_logs + seed 004 audit_logs), and AI-use events reported by devices
-- (seed 001 log_entries). Rows leave only through the recognised erasure/retention path: a row in
-- erasure_context written by the same transaction (see docs/data-model.md).

CREATE TABLE erasure_context (
    -- SQLite has one writer at a time: a row here is visible only to the transaction that wrote it
    -- until that transaction, which always deletes it again before committing, ends.
    id           INTEGER PRIMARY KEY,
    reason       TEXT NOT NULL CHECK (reason IN ('erasure', 'retention')),
    requested_by TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    device_id     TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 AND 200),
    user_id       TEXT REFERENCES users(id) ON DELETE SET NULL,
    device_type   TEXT NOT NULL CHECK (device_type IN ('browser', 'desktop', 'cli')),
    name          TEXT,
    token_hash    TEXT,
    registered_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen     TEXT,
    is_active     INTEGER NOT NULL DEFAULT true,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT uq_devices_token_hash UNIQUE (token_hash)
);
CREATE UNIQUE INDEX ix_devices_device_id ON devices (tenant_id, device_id);
CREATE INDEX ix_devices_user_id ON devices (user_id);

CREATE TABLE firewall_configs (
    id                     TEXT PRIMARY KEY NOT NULL,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    monitored_tools        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(monitored_tools) AND json_type(monitored_tools) = 'array'),
    sensitivity_thresholds TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(sensitivity_thresholds) AND json_type(sensitivity_thresholds) = 'object'),
    custom_patterns        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(custom_patterns) AND json_type(custom_patterns) = 'array'),
    log_retention_days     INTEGER NOT NULL DEFAULT 90 CHECK (log_retention_days BETWEEN 30 AND 365),
    updated_by             TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX ix_firewall_configs_organization_id ON firewall_configs (tenant_id);

CREATE TABLE ai_use_events (
    id                    TEXT PRIMARY KEY NOT NULL,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    device_id             TEXT REFERENCES devices(id) ON DELETE CASCADE,
    subject_id            TEXT,
    occurred_at           TEXT NOT NULL,
    tool_name             TEXT NOT NULL,
    tool_type             TEXT NOT NULL CHECK (tool_type IN ('web', 'desktop', 'cli')),
    domain                TEXT,
    action                TEXT NOT NULL DEFAULT 'prompt',
    risk_level            TEXT NOT NULL CHECK (risk_level IN ('green', 'amber', 'red')),
    prompt_length         INTEGER NOT NULL DEFAULT 0 CHECK (prompt_length >= 0),
    detected_entity_types TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(detected_entity_types) AND json_type(detected_entity_types) = 'array'),
    entity_count          INTEGER NOT NULL DEFAULT 0 CHECK (entity_count >= 0),
    was_sanitized         INTEGER NOT NULL DEFAULT false,
    log_metadata          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(log_metadata) AND json_type(log_metadata) = 'object'),
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
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

-- The id is the request id the caller saw (x-request-id, UUID v7, always Tollgate's own): one
-- key serves correlation and replay de-duplication, and rows sort by time.
CREATE TABLE usage_logs (
    id                  TEXT PRIMARY KEY NOT NULL,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    app_id              TEXT REFERENCES apps(id) ON DELETE CASCADE,
    api_key_id          TEXT REFERENCES api_keys(id) ON DELETE CASCADE,
    team_id             TEXT,
    subject_id          TEXT,
    device_id           TEXT,
    provider            TEXT NOT NULL,
    model               TEXT NOT NULL,
    endpoint            TEXT NOT NULL DEFAULT 'chat' CHECK (endpoint IN ('chat', 'messages', 'embeddings', 'device')),
    prompt_length       INTEGER NOT NULL DEFAULT 0 CHECK (prompt_length >= 0),
    pii_detected        INTEGER NOT NULL DEFAULT false,
    prompt_tokens       INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens   INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    tokens_used         INTEGER NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
    cost_micros         INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    credits_deducted    INTEGER NOT NULL DEFAULT 0 CHECK (credits_deducted >= 0),
    latency_ms          INTEGER,
    upstream_latency_ms INTEGER,
    response_status     TEXT NOT NULL CHECK (response_status IN ('success', 'error')),
    error_type          TEXT,
    http_status         INTEGER,
    streamed            INTEGER NOT NULL DEFAULT false,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT ck_usage_logs_error CHECK ((response_status = 'error') = (error_type IS NOT NULL))
);
CREATE INDEX idx_usage_logs_license ON usage_logs (api_key_id, created_at DESC);
CREATE INDEX idx_usage_logs_app ON usage_logs (app_id, created_at DESC);
CREATE INDEX idx_usage_logs_tenant ON usage_logs (tenant_id, created_at DESC);
CREATE INDEX idx_usage_logs_date ON usage_logs (created_at DESC);
CREATE INDEX idx_usage_logs_provider ON usage_logs (provider, created_at DESC);

CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY NOT NULL,
    tenant_id      TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL CHECK (seq >= 1),
    actor_type     TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'device', 'system')),
    actor_id       TEXT,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT,
    before         TEXT,
    after          TEXT,
    details        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details) AND json_type(details) = 'object'),
    ip_address     TEXT,
    user_agent     TEXT,
    correlation_id TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    checksum       TEXT NOT NULL CHECK (length(checksum) = 64)
);
-- tenant_id NULL is the system log; each log numbers its entries from 1 without gaps.
CREATE UNIQUE INDEX uq_audit_log_seq
    ON audit_log (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'), seq);
CREATE INDEX ix_audit_logs_user_id ON audit_log (actor_id);
CREATE INDEX ix_audit_logs_action ON audit_log (action);
CREATE INDEX ix_audit_logs_entity_id ON audit_log (resource_id);
CREATE INDEX ix_audit_logs_timestamp ON audit_log (created_at);
CREATE INDEX ix_audit_logs_user_id_timestamp ON audit_log (actor_id, created_at);
CREATE INDEX ix_audit_logs_entity_type_entity_id ON audit_log (resource_type, resource_id);
CREATE INDEX ix_audit_logs_correlation_id ON audit_log (correlation_id);


-- Rollups (seed 003 llm_metrics_hourly / llm_metrics_daily). Absent dimensions are the nil TEXT so
-- that every bucket has one key; recomputed idempotently with INSERT ... ON CONFLICT DO UPDATE.
CREATE TABLE usage_hourly (
    bucket_start      TEXT NOT NULL,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    team_id           TEXT NOT NULL,
    app_id            TEXT NOT NULL,
    model             TEXT NOT NULL,
    request_count     INTEGER NOT NULL DEFAULT 0,
    error_count       INTEGER NOT NULL DEFAULT 0,
    pii_count         INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    tokens_used       INTEGER NOT NULL DEFAULT 0,
    cost_micros       INTEGER NOT NULL DEFAULT 0,
    credits_deducted  INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, tenant_id, team_id, app_id, model)
);
CREATE INDEX idx_usage_hourly_tenant ON usage_hourly (tenant_id, bucket_start);

CREATE TABLE usage_daily (
    day               TEXT NOT NULL,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    grain             TEXT NOT NULL CHECK (grain IN ('team_model', 'subject', 'api_key')),
    dim_id            TEXT NOT NULL,
    model             TEXT NOT NULL,
    request_count     INTEGER NOT NULL DEFAULT 0,
    error_count       INTEGER NOT NULL DEFAULT 0,
    pii_count         INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    tokens_used       INTEGER NOT NULL DEFAULT 0,
    cost_micros       INTEGER NOT NULL DEFAULT 0,
    credits_deducted  INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, tenant_id, grain, dim_id, model)
);
CREATE INDEX idx_usage_daily_tenant ON usage_daily (tenant_id, grain, day);

CREATE TABLE system_metrics (
    id          TEXT PRIMARY KEY NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    host        TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    value       REAL NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(labels) AND json_type(labels) = 'object')
);
CREATE INDEX idx_system_metrics_name_time ON system_metrics (metric_name, recorded_at DESC);

CREATE TRIGGER trg_usage_logs_no_update BEFORE UPDATE ON usage_logs
BEGIN SELECT RAISE(ABORT, 'usage_logs is append-only: UPDATE is refused'); END;
CREATE TRIGGER trg_usage_logs_no_delete BEFORE DELETE ON usage_logs
WHEN NOT EXISTS (SELECT 1 FROM erasure_context)
BEGIN SELECT RAISE(ABORT, 'usage_logs is append-only: DELETE is refused (rows leave only through tollgate erase or retention)'); END;

CREATE TRIGGER trg_audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM erasure_context)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is refused (rows leave only through tollgate erase or retention)'); END;

CREATE TRIGGER trg_ai_use_events_no_update BEFORE UPDATE ON ai_use_events
BEGIN SELECT RAISE(ABORT, 'ai_use_events is append-only: UPDATE is refused'); END;
CREATE TRIGGER trg_ai_use_events_no_delete BEFORE DELETE ON ai_use_events
WHEN NOT EXISTS (SELECT 1 FROM erasure_context)
BEGIN SELECT RAISE(ABORT, 'ai_use_events is append-only: DELETE is refused (rows leave only through tollgate erase or retention)'); END;

CREATE TRIGGER trg_devices_updated_at AFTER UPDATE ON devices WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE devices SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_firewall_configs_updated_at AFTER UPDATE ON firewall_configs WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE firewall_configs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

-- INSERT OR REPLACE deletes the row it replaces without firing DELETE triggers: refuse it.
-- A usage record sent twice (a replayed batch) is skipped, like ON CONFLICT DO NOTHING.
CREATE TRIGGER trg_usage_logs_no_replace BEFORE INSERT ON usage_logs
WHEN EXISTS (SELECT 1 FROM usage_logs WHERE id = NEW.id)
BEGIN SELECT RAISE(IGNORE); END;
CREATE TRIGGER trg_audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id
             OR (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000')
                 = COALESCE(NEW.tenant_id, '00000000-0000-0000-0000-000000000000') AND seq = NEW.seq))
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: an entry with this id or position exists'); END;
CREATE TRIGGER trg_ai_use_events_no_replace BEFORE INSERT ON ai_use_events
WHEN EXISTS (SELECT 1 FROM ai_use_events WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'ai_use_events is append-only: an event with this id exists'); END;
