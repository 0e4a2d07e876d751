DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'apps', 'teams', 'users', 'api_keys', 'user_roles',
        'policy_assignments', 'alerts', 'alert_subscriptions', 'devices', 'firewall_configs',
        'ai_use_events', 'usage_logs', 'usage_hourly', 'usage_daily', 'audit_log', 'roles', 'policies',
        'sessions', 'mfa_secrets', 'team_members']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS builtin_rows_readable ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END $$;
DO $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['user_permissions_view', 'team_hierarchy_view', 'cost_summary_view',
        'active_sessions_view', 'alert_summary_view', 'policy_compliance_view', 'user_activity_summary_view']
    LOOP
        EXECUTE format('ALTER VIEW %I RESET (security_invoker)', v);
    END LOOP;
END $$;
DROP FUNCTION IF EXISTS tollgate_in_system_scope();
DROP FUNCTION IF EXISTS tollgate_current_tenant();
DROP TABLE IF EXISTS system_scope_log;
