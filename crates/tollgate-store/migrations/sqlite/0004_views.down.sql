DROP VIEW IF EXISTS user_activity_summary_view;
DROP VIEW IF EXISTS policy_compliance_view;
DROP VIEW IF EXISTS alert_summary_view;
DROP VIEW IF EXISTS active_sessions_view;
DROP VIEW IF EXISTS cost_summary_view;
DROP VIEW IF EXISTS team_hierarchy_view;
DROP VIEW IF EXISTS user_permissions_view;
