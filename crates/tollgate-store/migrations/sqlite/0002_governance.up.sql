-- Governance (seed 003): policies and their assignments, alerts and who hears about them.

CREATE TABLE policies (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT,
    policy_type TEXT NOT NULL
                CHECK (policy_type IN ('cost_limit', 'rate_limit', 'pii_detection', 'security', 'model_access')),
    rules       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(rules) AND json_type(rules) = 'object'),
    priority    INTEGER NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 10000),
    enforcement TEXT NOT NULL DEFAULT 'enforce' CHECK (enforcement IN ('enforce', 'monitor')),
    is_active   INTEGER NOT NULL DEFAULT true,
    version     INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    updated_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX uq_policies_name
    ON policies (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'), name);
CREATE INDEX idx_policies_type ON policies (policy_type) WHERE is_active;

-- A policy applies to a whole tenant or to one team, app, user or key of it.
CREATE TABLE policy_assignments (
    id          TEXT PRIMARY KEY NOT NULL,
    policy_id   TEXT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    target_type TEXT NOT NULL CHECK (target_type IN ('tenant', 'team', 'app', 'user', 'api_key')),
    team_id     TEXT REFERENCES teams(id) ON DELETE CASCADE,
    app_id      TEXT REFERENCES apps(id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    api_key_id  TEXT REFERENCES api_keys(id) ON DELETE CASCADE,
    is_active   INTEGER NOT NULL DEFAULT true,
    assigned_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT ck_policy_assignments_target CHECK (
        (target_type = 'tenant' AND team_id IS NULL AND app_id IS NULL AND user_id IS NULL AND api_key_id IS NULL)
        OR (target_type = 'team' AND team_id IS NOT NULL AND app_id IS NULL AND user_id IS NULL AND api_key_id IS NULL)
        OR (target_type = 'app' AND app_id IS NOT NULL AND team_id IS NULL AND user_id IS NULL AND api_key_id IS NULL)
        OR (target_type = 'user' AND user_id IS NOT NULL AND team_id IS NULL AND app_id IS NULL AND api_key_id IS NULL)
        OR (target_type = 'api_key' AND api_key_id IS NOT NULL AND team_id IS NULL AND app_id IS NULL AND user_id IS NULL)
    )
);
CREATE UNIQUE INDEX uq_policy_assignments_target
    ON policy_assignments (policy_id, target_type, COALESCE(team_id, app_id, user_id, api_key_id, tenant_id));
CREATE INDEX idx_policy_assignments_policy ON policy_assignments (policy_id);
CREATE INDEX idx_policy_assignments_tenant ON policy_assignments (tenant_id);

CREATE TABLE alerts (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alert_type      TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    title           TEXT NOT NULL,
    message         TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL DEFAULT 'system',
    resource_type   TEXT,
    resource_id     TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    acknowledged_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    acknowledged_at TEXT,
    resolved_by     TEXT REFERENCES users(id) ON DELETE SET NULL,
    resolved_at     TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT ck_alerts_resolved CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE INDEX idx_alerts_tenant_created ON alerts (tenant_id, created_at DESC);
CREATE INDEX idx_alerts_type_severity ON alerts (alert_type, severity);
CREATE INDEX idx_alerts_unresolved ON alerts (tenant_id, severity, created_at DESC) WHERE status <> 'resolved';

CREATE TABLE alert_subscriptions (
    id           TEXT PRIMARY KEY NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    alert_type   TEXT NOT NULL DEFAULT '*',
    min_severity TEXT NOT NULL DEFAULT 'warning' CHECK (min_severity IN ('info', 'warning', 'critical')),
    channel      TEXT NOT NULL CHECK (channel IN ('in_app', 'email', 'webhook')),
    target       TEXT,
    is_active    INTEGER NOT NULL DEFAULT true,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT uq_alert_subscriptions UNIQUE (user_id, alert_type, channel),
    CONSTRAINT ck_alert_subscriptions_target CHECK (channel = 'in_app' OR target IS NOT NULL)
);
CREATE INDEX idx_alert_subscriptions_user ON alert_subscriptions (user_id);


CREATE TRIGGER trg_policies_updated_at AFTER UPDATE ON policies WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE policies SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_policy_assignments_updated_at AFTER UPDATE ON policy_assignments WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE policy_assignments SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_alerts_updated_at AFTER UPDATE ON alerts WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE alerts SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_alert_subscriptions_updated_at AFTER UPDATE ON alert_subscriptions WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE alert_subscriptions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;
