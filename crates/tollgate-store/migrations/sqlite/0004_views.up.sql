-- SQLite dialect of migrations/postgres/0004_views.up.sql: the same views, columns and rows.

CREATE VIEW user_permissions_view AS
WITH RECURSIVE granted(user_id, tenant_id, scope_team_id, assigned_role_id, role_id, parent_role_id, depth) AS (
    SELECT ur.user_id, ur.tenant_id, ur.team_id, ur.role_id, r.id, r.parent_role_id, 0
    FROM user_roles ur
    JOIN roles r ON r.id = ur.role_id
    WHERE ur.expires_at IS NULL OR ur.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    UNION ALL
    SELECT g.user_id, g.tenant_id, g.scope_team_id, g.assigned_role_id, p.id, p.parent_role_id, g.depth + 1
    FROM granted g
    JOIN roles p ON p.id = g.parent_role_id
    WHERE g.depth < 10
)
SELECT g.user_id,
       u.username,
       g.tenant_id,
       g.scope_team_id,
       g.assigned_role_id,
       ar.name AS assigned_role_name,
       g.role_id AS granting_role_id,
       perm.value AS permission,
       g.depth AS inheritance_depth
FROM granted g
JOIN users u ON u.id = g.user_id AND u.is_active
JOIN roles ar ON ar.id = g.assigned_role_id
JOIN roles gr ON gr.id = g.role_id
JOIN json_each(gr.permissions) AS perm;

CREATE VIEW team_hierarchy_view AS
WITH RECURSIVE tree(id, tenant_id, root_team_id, depth, path, id_path) AS (
    SELECT t.id, t.tenant_id, t.id, 1, CAST(t.name AS text), CAST(t.id AS text)
    FROM teams t
    WHERE t.parent_team_id IS NULL
    UNION ALL
    SELECT c.id, c.tenant_id, tree.root_team_id, tree.depth + 1,
           tree.path || ' > ' || c.name, tree.id_path || '/' || CAST(c.id AS text)
    FROM teams c
    JOIN tree ON c.parent_team_id = tree.id
    WHERE tree.depth < 10
)
SELECT t.id AS team_id,
       t.tenant_id,
       t.name,
       t.parent_team_id,
       tree.root_team_id,
       tree.depth,
       tree.path,
       tree.id_path,
       t.budget_micros,
       t.budget_currency,
       t.budget_period,
       t.is_active,
       (SELECT count(*) FROM team_members m WHERE m.team_id = t.id) AS member_count,
       (SELECT count(*) FROM teams c WHERE c.parent_team_id = t.id) AS child_count
FROM tree
JOIN teams t ON t.id = tree.id;

CREATE VIEW cost_summary_view AS
SELECT d.day,
       d.tenant_id,
       NULLIF(d.dim_id, '00000000-0000-0000-0000-000000000000') AS team_id,
       t.name AS team_name,
       d.model,
       d.request_count,
       d.error_count,
       d.prompt_tokens,
       d.completion_tokens,
       d.tokens_used,
       d.cost_micros,
       d.credits_deducted
FROM usage_daily d
LEFT JOIN teams t ON t.id = d.dim_id
WHERE d.grain = 'team_model';

CREATE VIEW active_sessions_view AS
SELECT s.id AS session_id,
       s.user_id,
       u.tenant_id,
       u.email,
       s.ip_address,
       s.user_agent,
       s.mfa_verified,
       s.created_at,
       s.last_seen_at,
       s.expires_at,
       CAST(round((julianday(s.expires_at) - julianday('now')) * 86400000) AS INTEGER) / 1000 AS expires_in_seconds
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.revoked_at IS NULL AND s.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AND u.is_active;

CREATE VIEW alert_summary_view AS
SELECT a.tenant_id,
       a.alert_type,
       a.severity,
       count(*) AS total_count,
       CAST(sum(CASE WHEN a.status = 'open' THEN 1 ELSE 0 END) AS BIGINT) AS open_count,
       CAST(sum(CASE WHEN a.status = 'acknowledged' THEN 1 ELSE 0 END) AS BIGINT) AS acknowledged_count,
       CAST(sum(CASE WHEN a.status = 'resolved' THEN 1 ELSE 0 END) AS BIGINT) AS resolved_count,
       max(a.created_at) AS latest_at
FROM alerts a
GROUP BY a.tenant_id, a.alert_type, a.severity;

CREATE VIEW policy_compliance_view AS
SELECT p.id AS policy_id,
       p.tenant_id,
       p.name,
       p.policy_type,
       p.enforcement,
       p.is_active,
       p.version,
       (SELECT count(*) FROM policy_assignments pa WHERE pa.policy_id = p.id AND pa.is_active) AS assignment_count,
       (SELECT count(*) FROM policy_assignments pa WHERE pa.policy_id = p.id AND pa.is_active AND pa.target_type = 'team') AS team_assignments,
       (SELECT count(*) FROM policy_assignments pa WHERE pa.policy_id = p.id AND pa.is_active AND pa.target_type = 'user') AS user_assignments,
       (SELECT count(*) FROM alerts a
         WHERE a.resource_type = 'policy' AND a.resource_id = CAST(p.id AS text)) AS violation_count,
       (SELECT count(*) FROM alerts a
         WHERE a.resource_type = 'policy' AND a.resource_id = CAST(p.id AS text) AND a.status <> 'resolved') AS open_violation_count
FROM policies p;

CREATE VIEW user_activity_summary_view AS
SELECT u.id AS user_id,
       u.tenant_id,
       u.username,
       u.email,
       u.is_active,
       u.last_login,
       (SELECT count(*) FROM sessions s
         WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) AS active_session_count,
       CAST(COALESCE((SELECT sum(d.request_count) FROM usage_daily d
         WHERE d.grain = 'subject' AND d.dim_id = u.subject_id), 0) AS BIGINT) AS request_count,
       CAST(COALESCE((SELECT sum(d.tokens_used) FROM usage_daily d
         WHERE d.grain = 'subject' AND d.dim_id = u.subject_id), 0) AS BIGINT) AS tokens_used,
       CAST(COALESCE((SELECT sum(d.cost_micros) FROM usage_daily d
         WHERE d.grain = 'subject' AND d.dim_id = u.subject_id), 0) AS BIGINT) AS cost_micros,
       (SELECT max(d.day) FROM usage_daily d
         WHERE d.grain = 'subject' AND d.dim_id = u.subject_id) AS last_active_day
FROM users u
WHERE u.deleted_at IS NULL;
