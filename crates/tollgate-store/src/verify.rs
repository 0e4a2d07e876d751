//! `tollgate schema verify` (seed 003's verify script): every expected table, view, index,
//! trigger, foreign key and built-in row is present. The lists below are the contract with
//! `docs/data-model.md`; dropping a seed-named index makes verification fail.

use std::collections::BTreeSet;

use sqlx::Row;
use tollgate_domain::builtin;

use crate::backend::{on_pool, Pool};
use crate::sql::DbId;
use crate::{Backend, Store, StoreError};

/// Tables of the data model.
pub const TABLES: &[&str] = &[
    "tenants",
    "apps",
    "teams",
    "users",
    "api_keys",
    "roles",
    "user_roles",
    "team_members",
    "sessions",
    "mfa_secrets",
    "system_config",
    "policies",
    "policy_assignments",
    "alerts",
    "alert_subscriptions",
    "erasure_context",
    "devices",
    "firewall_configs",
    "ai_use_events",
    "usage_logs",
    "audit_log",
    "audit_bodies",
    "audit_log_list",
    "audit_tree",
    "audit_checkpoints",
    "audit_log_v0",
    "usage_hourly",
    "usage_daily",
    "system_metrics",
    "credit_leases",
    "job_runs",
];

/// Tables with row-level security forced on PostgreSQL (migration 0006), and the table that
/// records cross-tenant jobs.
pub const ROW_SECURITY_TABLES: &[&str] = &[
    "tenants",
    "apps",
    "teams",
    "users",
    "api_keys",
    "roles",
    "user_roles",
    "policies",
    "policy_assignments",
    "alerts",
    "alert_subscriptions",
    "devices",
    "firewall_configs",
    "ai_use_events",
    "usage_logs",
    "usage_hourly",
    "usage_daily",
    "audit_log",
    "audit_bodies",
    "audit_log_list",
    "audit_tree",
    "audit_checkpoints",
    "audit_log_v0",
    "sessions",
    "mfa_secrets",
    "team_members",
    "credit_leases",
];

/// The seven report views of seed 003.
pub const VIEWS: &[&str] = &[
    "user_permissions_view",
    "team_hierarchy_view",
    "cost_summary_view",
    "active_sessions_view",
    "alert_summary_view",
    "policy_compliance_view",
    "user_activity_summary_view",
];

/// Indexes on both backends: (index, table).
pub const INDEXES: &[(&str, &str)] = &[
    ("idx_apps_tenant", "apps"),
    ("idx_credit_leases_holder", "credit_leases"),
    ("idx_credit_leases_tenant", "credit_leases"),
    ("idx_apps_active", "apps"),
    ("idx_teams_tenant", "teams"),
    ("idx_teams_parent", "teams"),
    ("uq_teams_sibling_name", "teams"),
    ("ix_users_username", "users"),
    ("ix_users_email", "users"),
    ("ix_users_external_id", "users"),
    ("ix_users_email_auth_provider", "users"),
    ("idx_users_tenant", "users"),
    ("idx_api_keys_tenant", "api_keys"),
    ("idx_api_keys_app", "api_keys"),
    ("idx_api_keys_user", "api_keys"),
    ("idx_api_keys_prefix", "api_keys"),
    ("ix_roles_name", "roles"),
    ("idx_roles_parent", "roles"),
    ("uq_user_role", "user_roles"),
    ("ix_user_roles_user_id", "user_roles"),
    ("ix_user_roles_role_id", "user_roles"),
    ("idx_team_members_user", "team_members"),
    ("idx_sessions_user", "sessions"),
    ("idx_sessions_expires", "sessions"),
    ("ix_system_config_key", "system_config"),
    ("ix_system_config_updated_at", "system_config"),
    ("uq_policies_name", "policies"),
    ("idx_policies_type", "policies"),
    ("uq_policy_assignments_target", "policy_assignments"),
    ("idx_policy_assignments_policy", "policy_assignments"),
    ("idx_policy_assignments_tenant", "policy_assignments"),
    ("idx_alerts_tenant_created", "alerts"),
    ("idx_alerts_type_severity", "alerts"),
    ("idx_alerts_unresolved", "alerts"),
    ("idx_alert_subscriptions_user", "alert_subscriptions"),
    ("ix_devices_device_id", "devices"),
    ("ix_devices_user_id", "devices"),
    ("ix_firewall_configs_organization_id", "firewall_configs"),
    ("ix_ai_use_events_occurred_at", "ai_use_events"),
    ("ix_ai_use_events_device_id", "ai_use_events"),
    ("ix_ai_use_events_subject_id", "ai_use_events"),
    ("ix_ai_use_events_tool_name", "ai_use_events"),
    ("ix_ai_use_events_risk_level", "ai_use_events"),
    ("idx_ai_use_events_occurred_risk", "ai_use_events"),
    ("idx_ai_use_events_subject_occurred", "ai_use_events"),
    ("idx_ai_use_events_tool_occurred", "ai_use_events"),
    ("idx_ai_use_events_tenant_occurred", "ai_use_events"),
    ("idx_usage_logs_license", "usage_logs"),
    ("idx_usage_logs_app", "usage_logs"),
    ("idx_usage_logs_tenant", "usage_logs"),
    ("idx_usage_logs_date", "usage_logs"),
    ("idx_usage_logs_provider", "usage_logs"),
    ("idx_usage_logs_sealed_by", "usage_logs"),
    ("uq_audit_log_seq", "audit_log"),
    ("ix_audit_logs_user_id", "audit_log"),
    ("ix_audit_logs_action", "audit_log"),
    ("ix_audit_logs_entity_id", "audit_log"),
    ("ix_audit_logs_timestamp", "audit_log"),
    ("ix_audit_logs_user_id_timestamp", "audit_log"),
    ("ix_audit_logs_entity_type_entity_id", "audit_log"),
    ("ix_audit_logs_correlation_id", "audit_log"),
    ("uq_audit_log_v0_seq", "audit_log_v0"),
    ("ix_audit_bodies_tenant_id", "audit_bodies"),
    ("ix_audit_checkpoints_created", "audit_checkpoints"),
    ("idx_usage_hourly_tenant", "usage_hourly"),
    ("idx_usage_daily_tenant", "usage_daily"),
    ("idx_system_metrics_name_time", "system_metrics"),
];

/// GIN indexes on JSON columns (PostgreSQL only; SQLite has no such index).
pub const GIN_INDEXES: &[(&str, &str)] = &[
    ("idx_roles_permissions", "roles"),
    ("idx_policies_rules", "policies"),
    ("idx_alerts_metadata", "alerts"),
    ("idx_ai_use_events_metadata", "ai_use_events"),
    ("idx_audit_log_details", "audit_bodies"),
    ("idx_api_keys_scopes", "api_keys"),
    ("idx_firewall_configs_patterns", "firewall_configs"),
    ("idx_system_metrics_labels", "system_metrics"),
];

/// Indexes whose definition must keep a feature: (index, text its definition contains).
pub const INDEX_SHAPES: &[(&str, &str)] = &[
    ("idx_apps_active", "WHERE"),
    ("idx_alerts_unresolved", "WHERE"),
    ("idx_usage_logs_date", "DESC"),
];

/// Tables whose `updated_at` the database maintains.
pub const UPDATED_AT_TABLES: &[&str] = &[
    "tenants",
    "apps",
    "teams",
    "users",
    "api_keys",
    "roles",
    "mfa_secrets",
    "system_config",
    "policies",
    "policy_assignments",
    "alerts",
    "alert_subscriptions",
    "devices",
    "firewall_configs",
];

/// Append-only tables.
pub const APPEND_ONLY_TABLES: &[&str] = &[
    "usage_logs",
    "audit_log",
    "audit_bodies",
    "audit_log_list",
    "audit_tree",
    "audit_checkpoints",
    "ai_use_events",
];

/// Foreign keys: (table, column, referenced table, ON DELETE rule).
pub const FOREIGN_KEYS: &[(&str, &str, &str, &str)] = &[
    ("apps", "tenant_id", "tenants", "CASCADE"),
    ("teams", "tenant_id", "tenants", "CASCADE"),
    ("teams", "parent_team_id", "teams", "NO ACTION"),
    ("users", "tenant_id", "tenants", "CASCADE"),
    ("api_keys", "tenant_id", "tenants", "CASCADE"),
    ("api_keys", "app_id", "apps", "CASCADE"),
    ("api_keys", "team_id", "teams", "SET NULL"),
    ("api_keys", "user_id", "users", "CASCADE"),
    ("api_keys", "revoked_by", "users", "SET NULL"),
    ("api_keys", "created_by", "users", "SET NULL"),
    ("roles", "tenant_id", "tenants", "CASCADE"),
    ("roles", "parent_role_id", "roles", "NO ACTION"),
    ("user_roles", "user_id", "users", "CASCADE"),
    ("user_roles", "role_id", "roles", "CASCADE"),
    ("user_roles", "tenant_id", "tenants", "CASCADE"),
    ("user_roles", "team_id", "teams", "CASCADE"),
    ("user_roles", "assigned_by", "users", "SET NULL"),
    ("team_members", "team_id", "teams", "CASCADE"),
    ("team_members", "user_id", "users", "CASCADE"),
    ("team_members", "added_by", "users", "SET NULL"),
    ("sessions", "user_id", "users", "CASCADE"),
    ("mfa_secrets", "user_id", "users", "CASCADE"),
    ("system_config", "updated_by", "users", "SET NULL"),
    ("policies", "tenant_id", "tenants", "CASCADE"),
    ("policies", "created_by", "users", "SET NULL"),
    ("policies", "updated_by", "users", "SET NULL"),
    ("policy_assignments", "policy_id", "policies", "CASCADE"),
    ("policy_assignments", "tenant_id", "tenants", "CASCADE"),
    ("policy_assignments", "team_id", "teams", "CASCADE"),
    ("policy_assignments", "app_id", "apps", "CASCADE"),
    ("policy_assignments", "user_id", "users", "CASCADE"),
    ("policy_assignments", "api_key_id", "api_keys", "CASCADE"),
    ("policy_assignments", "assigned_by", "users", "SET NULL"),
    ("alerts", "tenant_id", "tenants", "CASCADE"),
    ("alerts", "acknowledged_by", "users", "SET NULL"),
    ("alerts", "resolved_by", "users", "SET NULL"),
    ("alert_subscriptions", "tenant_id", "tenants", "CASCADE"),
    ("alert_subscriptions", "user_id", "users", "CASCADE"),
    ("devices", "tenant_id", "tenants", "CASCADE"),
    ("devices", "user_id", "users", "SET NULL"),
    ("firewall_configs", "tenant_id", "tenants", "CASCADE"),
    ("firewall_configs", "updated_by", "users", "SET NULL"),
    ("ai_use_events", "tenant_id", "tenants", "CASCADE"),
    ("ai_use_events", "device_id", "devices", "CASCADE"),
    ("usage_logs", "tenant_id", "tenants", "CASCADE"),
    ("usage_logs", "app_id", "apps", "CASCADE"),
    ("usage_logs", "api_key_id", "api_keys", "CASCADE"),
    ("audit_log_v0", "tenant_id", "tenants", "CASCADE"),
    ("audit_bodies", "tenant_id", "tenants", "CASCADE"),
    ("usage_hourly", "tenant_id", "tenants", "CASCADE"),
    ("usage_daily", "tenant_id", "tenants", "CASCADE"),
    ("credit_leases", "api_key_id", "api_keys", "CASCADE"),
    ("credit_leases", "tenant_id", "tenants", "CASCADE"),
];

/// The outcome of a verification.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// How many objects were checked.
    pub checked: usize,
    /// What is missing or wrong, one line each.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether everything was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn expect(&mut self, present: bool, what: impl FnOnce() -> String) {
        self.checked += 1;
        if !present {
            self.problems.push(what());
        }
    }
}

/// The triggers each backend must have.
fn triggers(backend: Backend) -> Vec<String> {
    let mut names: Vec<String> = UPDATED_AT_TABLES
        .iter()
        .map(|t| format!("trg_{t}_updated_at"))
        .collect();
    match backend {
        Backend::Postgres => {
            names.extend(["trg_teams_hierarchy", "trg_roles_hierarchy"].map(String::from));
            names.extend(
                APPEND_ONLY_TABLES
                    .iter()
                    .map(|t| format!("trg_{t}_append_only")),
            );
            names.extend(
                APPEND_ONLY_TABLES
                    .iter()
                    .map(|t| format!("trg_{t}_no_truncate")),
            );
        }
        Backend::Sqlite => {
            for h in ["teams", "roles"] {
                names.push(format!("trg_{h}_hierarchy_insert"));
                names.push(format!("trg_{h}_hierarchy_update"));
            }
            for t in APPEND_ONLY_TABLES {
                names.push(format!("trg_{t}_no_update"));
                names.push(format!("trg_{t}_no_delete"));
                names.push(format!("trg_{t}_no_replace"));
            }
        }
    }
    names
}

impl Store {
    /// Checks the live schema against what this build expects.
    pub async fn verify_schema(&self) -> Result<VerifyReport, StoreError> {
        let backend = self.backend();
        let catalog = self.catalog().await?;
        let mut report = VerifyReport::default();

        for t in TABLES {
            report.expect(catalog.tables.contains(*t), || format!("table {t}"));
        }
        if backend == Backend::Postgres {
            report.expect(catalog.tables.contains("system_scope_log"), || {
                "table system_scope_log".to_string()
            });
            for t in ROW_SECURITY_TABLES {
                report.expect(catalog.row_security.contains(*t), || {
                    format!(
                        "row-level security (enabled and forced, policy tenant_isolation) on {t}"
                    )
                });
            }
        }
        for v in VIEWS {
            report.expect(catalog.views.contains(*v), || format!("view {v}"));
        }
        let gin: &[(&str, &str)] = if backend == Backend::Postgres {
            GIN_INDEXES
        } else {
            &[]
        };
        for (index, table) in INDEXES.iter().chain(gin) {
            let found = catalog
                .indexes
                .iter()
                .any(|(i, t, _)| i == index && t == table);
            report.expect(found, || format!("index {index} on {table}"));
        }
        for (index, feature) in INDEX_SHAPES {
            if let Some((_, _, def)) = catalog.indexes.iter().find(|(i, _, _)| i == index) {
                report.expect(def.to_uppercase().contains(feature), || {
                    format!(
                        "index {index} must be {}",
                        if *feature == "DESC" {
                            "descending"
                        } else {
                            "partial"
                        }
                    )
                });
            }
        }
        for trigger in triggers(backend) {
            report.expect(catalog.triggers.contains(&trigger), || {
                format!("trigger {trigger}")
            });
        }
        for (table, column, target, rule) in FOREIGN_KEYS {
            let found = catalog.foreign_keys.iter().any(|fk| {
                fk == &(
                    table.to_string(),
                    column.to_string(),
                    target.to_string(),
                    rule.to_string(),
                )
            });
            report.expect(found, || {
                format!("foreign key {table}.{column} -> {target} ON DELETE {rule}")
            });
        }
        let has = |t: &str| catalog.tables.contains(t);
        for (id, name, _) in builtin::SYSTEM_ROLES {
            if !has("roles") {
                report.expect(false, || format!("system role {name} ({id})"));
                continue;
            }
            let n: i64 = on_pool!(self, pool => sqlx::query_scalar(
                "SELECT count(*) FROM roles WHERE id = $1 AND name = $2 AND is_system_role")
                .bind(DbId(id)).bind(name).fetch_one(pool).await)?;
            report.expect(n == 1, || format!("system role {name} ({id})"));
        }
        for (id, name, kind) in builtin::DEFAULT_POLICIES {
            if !has("policies") {
                report.expect(false, || format!("default policy {name} ({id})"));
                continue;
            }
            let n: i64 = on_pool!(self, pool => sqlx::query_scalar(
                "SELECT count(*) FROM policies WHERE id = $1 AND policy_type = $2")
                .bind(DbId(id)).bind(kind).fetch_one(pool).await)?;
            report.expect(n == 1, || format!("default policy {name} ({id})"));
        }
        let leftover: i64 = if has("erasure_context") {
            on_pool!(self, pool => sqlx::query_scalar("SELECT count(*) FROM erasure_context")
                .fetch_one(pool)
                .await)?
        } else {
            0
        };
        report.expect(leftover == 0, || {
            format!("erasure_context holds {leftover} committed row(s): they would unlock the append-only tables; delete them")
        });
        Ok(report)
    }

    async fn catalog(&self) -> Result<Catalog, StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlite_catalog(pool).await,
            Pool::Postgres(pool) => postgres_catalog(pool).await,
        }
    }
}

async fn sqlite_catalog(pool: &sqlx::SqlitePool) -> Result<Catalog, StoreError> {
    let mut c = Catalog::default();
    let rows = sqlx::query("SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master")
        .fetch_all(pool)
        .await?;
    for r in rows {
        let (kind, name, table, sql): (String, String, String, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        match kind.as_str() {
            "table" => {
                c.tables.insert(name);
            }
            "view" => {
                c.views.insert(name);
            }
            "trigger" => {
                c.triggers.insert(name);
            }
            "index" => c.indexes.push((name, table, sql)),
            _ => {}
        }
    }
    for table in &c.tables {
        let fks =
            sqlx::query("SELECT \"from\", \"table\", on_delete FROM pragma_foreign_key_list($1)")
                .bind(table)
                .fetch_all(pool)
                .await?;
        for fk in fks {
            c.foreign_keys.push((
                table.clone(),
                fk.try_get(0)?,
                fk.try_get(1)?,
                fk.try_get(2)?,
            ));
        }
    }
    Ok(c)
}

async fn postgres_catalog(pool: &sqlx::PgPool) -> Result<Catalog, StoreError> {
    let names = |sql: &'static str| async move {
        let v: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await?;
        Ok::<BTreeSet<String>, StoreError>(v.into_iter().collect())
    };
    let mut c = Catalog {
        tables: names("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()")
            .await?,
        views: names("SELECT viewname::text FROM pg_views WHERE schemaname = current_schema()")
            .await?,
        triggers: names(
            "SELECT t.tgname::text FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
             WHERE NOT t.tgisinternal AND r.relnamespace = current_schema()::regnamespace",
        )
        .await?,
        row_security: names(
            "SELECT c.relname::text FROM pg_class c
             WHERE c.relrowsecurity AND c.relforcerowsecurity
               AND c.relnamespace = current_schema()::regnamespace
               AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')",
        )
        .await?,
        ..Catalog::default()
    };
    let rows = sqlx::query(
        "SELECT indexname::text, tablename::text, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
    )
    .fetch_all(pool)
    .await?;
    for r in rows {
        c.indexes
            .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
    }
    let rows = sqlx::query(
        "SELECT cl.relname::text, att.attname::text, rcl.relname::text,
                CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
                     WHEN 'r' THEN 'RESTRICT' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END
         FROM pg_constraint c
         JOIN pg_class cl ON cl.oid = c.conrelid
         JOIN pg_class rcl ON rcl.oid = c.confrelid
         JOIN pg_attribute att ON att.attrelid = c.conrelid AND att.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND cl.relnamespace = current_schema()::regnamespace",
    )
    .fetch_all(pool)
    .await?;
    for r in rows {
        c.foreign_keys
            .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?));
    }
    Ok(c)
}

#[derive(Default)]
struct Catalog {
    tables: BTreeSet<String>,
    views: BTreeSet<String>,
    triggers: BTreeSet<String>,
    indexes: Vec<(String, String, String)>,
    foreign_keys: Vec<(String, String, String, String)>,
    row_security: BTreeSet<String>,
}
