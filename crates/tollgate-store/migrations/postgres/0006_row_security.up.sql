-- Row-level security as defence in depth (seed 000 DB-002). Tollgate names the tenant of every
-- transaction (SET LOCAL tollgate.tenant_id); a query that names none sees no tenant's rows.
-- Cross-tenant jobs enter the system scope by writing a row to system_scope_log in their own
-- transaction: that row is both the key and the audit trail of the job.
-- Superusers and BYPASSRLS roles skip all of this: run Tollgate as a plain role that owns its
-- tables (FORCE makes the policies apply to the owner too).

CREATE TABLE system_scope_log (
    txid       bigint PRIMARY KEY DEFAULT txid_current(),
    job        text NOT NULL CHECK (length(job) BETWEEN 1 AND 200),
    db_user    text NOT NULL DEFAULT current_user,
    started_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);
CREATE INDEX idx_system_scope_log_started ON system_scope_log (started_at);
CREATE TRIGGER trg_system_scope_log_append_only BEFORE UPDATE OR DELETE ON system_scope_log
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_record_change();

CREATE FUNCTION tollgate_current_tenant() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT CAST(NULLIF(current_setting('tollgate.tenant_id', true), '') AS uuid)
$$;

CREATE FUNCTION tollgate_in_system_scope() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM system_scope_log WHERE txid = txid_current_if_assigned())
$$;

DO $$
DECLARE
    t text;
BEGIN
    -- Rows of one tenant.
    FOREACH t IN ARRAY ARRAY['apps', 'teams', 'users', 'api_keys', 'user_roles', 'policy_assignments',
        'alerts', 'alert_subscriptions', 'devices', 'firewall_configs', 'ai_use_events', 'usage_logs',
        'usage_hourly', 'usage_daily', 'audit_log']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = tollgate_current_tenant() OR tollgate_in_system_scope())
            WITH CHECK (tenant_id = tollgate_current_tenant() OR tollgate_in_system_scope())', t);
    END LOOP;
    -- Built-in rows (tenant_id NULL) are readable by everyone and changed only by the system:
    -- a second policy for SELECT alone, so UPDATE and DELETE see only the first.
    FOREACH t IN ARRAY ARRAY['roles', 'policies']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = tollgate_current_tenant() OR tollgate_in_system_scope())
            WITH CHECK (tenant_id = tollgate_current_tenant() OR tollgate_in_system_scope())', t);
        EXECUTE format('CREATE POLICY builtin_rows_readable ON %I FOR SELECT USING (tenant_id IS NULL)', t);
    END LOOP;
END $$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = tollgate_current_tenant() OR tollgate_in_system_scope())
    WITH CHECK (id = tollgate_current_tenant() OR tollgate_in_system_scope());

-- Tables without a tenant column follow the row they belong to.
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id))
    WITH CHECK (EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id));
ALTER TABLE mfa_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mfa_secrets
    USING (EXISTS (SELECT 1 FROM users u WHERE u.id = mfa_secrets.user_id))
    WITH CHECK (EXISTS (SELECT 1 FROM users u WHERE u.id = mfa_secrets.user_id));
ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE team_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON team_members
    USING (EXISTS (SELECT 1 FROM teams t WHERE t.id = team_members.team_id))
    WITH CHECK (EXISTS (SELECT 1 FROM teams t WHERE t.id = team_members.team_id));

-- Views run with the rights of whoever queries them (PostgreSQL 15+), so row security applies
-- to them whichever role created them.
ALTER VIEW user_permissions_view SET (security_invoker = true);
ALTER VIEW team_hierarchy_view SET (security_invoker = true);
ALTER VIEW cost_summary_view SET (security_invoker = true);
ALTER VIEW active_sessions_view SET (security_invoker = true);
ALTER VIEW alert_summary_view SET (security_invoker = true);
ALTER VIEW policy_compliance_view SET (security_invoker = true);
ALTER VIEW user_activity_summary_view SET (security_invoker = true);
