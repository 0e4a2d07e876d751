-- Governance (seed 003): policies and their assignments, alerts and who hears about them.

CREATE TABLE policies (
    id          uuid PRIMARY KEY,
    tenant_id   uuid REFERENCES tenants(id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text,
    policy_type text NOT NULL
                CHECK (policy_type IN ('cost_limit', 'rate_limit', 'pii_detection', 'security', 'model_access')),
    rules       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rules) = 'object'),
    priority    integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 10000),
    enforcement text NOT NULL DEFAULT 'enforce' CHECK (enforcement IN ('enforce', 'monitor')),
    is_active   boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    updated_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);
CREATE UNIQUE INDEX uq_policies_name
    ON policies (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), name);
CREATE INDEX idx_policies_type ON policies (policy_type) WHERE is_active;
CREATE INDEX idx_policies_rules ON policies USING gin (rules);

-- A policy applies to a whole tenant or to one team, app, user or key of it.
CREATE TABLE policy_assignments (
    id          uuid PRIMARY KEY,
    policy_id   uuid NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    target_type text NOT NULL CHECK (target_type IN ('tenant', 'team', 'app', 'user', 'api_key')),
    team_id     uuid REFERENCES teams(id) ON DELETE CASCADE,
    app_id      uuid REFERENCES apps(id) ON DELETE CASCADE,
    user_id     uuid REFERENCES users(id) ON DELETE CASCADE,
    api_key_id  uuid REFERENCES api_keys(id) ON DELETE CASCADE,
    is_active   boolean NOT NULL DEFAULT true,
    assigned_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
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
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alert_type      text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    title           text NOT NULL,
    message         text NOT NULL DEFAULT '',
    source          text NOT NULL DEFAULT 'system',
    resource_type   text,
    resource_id     text,
    metadata        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    acknowledged_by uuid REFERENCES users(id) ON DELETE SET NULL,
    acknowledged_at timestamptz,
    resolved_by     uuid REFERENCES users(id) ON DELETE SET NULL,
    resolved_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT ck_alerts_resolved CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE INDEX idx_alerts_tenant_created ON alerts (tenant_id, created_at DESC);
CREATE INDEX idx_alerts_type_severity ON alerts (alert_type, severity);
CREATE INDEX idx_alerts_unresolved ON alerts (tenant_id, severity, created_at DESC) WHERE status <> 'resolved';
CREATE INDEX idx_alerts_metadata ON alerts USING gin (metadata);

CREATE TABLE alert_subscriptions (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    alert_type   text NOT NULL DEFAULT '*',
    min_severity text NOT NULL DEFAULT 'warning' CHECK (min_severity IN ('info', 'warning', 'critical')),
    channel      text NOT NULL CHECK (channel IN ('in_app', 'email', 'webhook')),
    target       text,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at   timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT uq_alert_subscriptions UNIQUE (user_id, alert_type, channel),
    CONSTRAINT ck_alert_subscriptions_target CHECK (channel = 'in_app' OR target IS NOT NULL)
);
CREATE INDEX idx_alert_subscriptions_user ON alert_subscriptions (user_id);

CREATE TRIGGER trg_policies_updated_at BEFORE UPDATE ON policies FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_policy_assignments_updated_at BEFORE UPDATE ON policy_assignments FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_alerts_updated_at BEFORE UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_alert_subscriptions_updated_at BEFORE UPDATE ON alert_subscriptions FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
