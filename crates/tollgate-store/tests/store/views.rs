//! The seven views return the same rows on both backends for the same data.

use tollgate_domain::demo;
use tollgate_store::demo::DemoOptions;
use tollgate_store::Store;
use tollgate_testkit::{Backend, TestDb};

/// One query per view, rendering each row as text from columns that do not depend on random
/// ids or on the clock.
const PROBES: &[(&str, &str)] = &[
    ("user_permissions_view", "SELECT username || '|' || assigned_role_name || '|' || permission || '|' || CAST(inheritance_depth AS TEXT) FROM user_permissions_view"),
    ("team_hierarchy_view", "SELECT name || '|' || CAST(depth AS TEXT) || '|' || path || '|' || CAST(member_count AS TEXT) || '|' || CAST(child_count AS TEXT) FROM team_hierarchy_view"),
    ("cost_summary_view", "SELECT team_name || '|' || model || '|' || CAST(request_count AS TEXT) || '|' || CAST(cost_micros AS TEXT) FROM cost_summary_view"),
    ("active_sessions_view", "SELECT email || '|' || CAST(expires_in_seconds > 3000 AS TEXT) FROM active_sessions_view"),
    ("alert_summary_view", "SELECT alert_type || '|' || severity || '|' || CAST(total_count AS TEXT) || '|' || CAST(open_count AS TEXT) || '|' || CAST(resolved_count AS TEXT) FROM alert_summary_view"),
    ("policy_compliance_view", "SELECT name || '|' || policy_type || '|' || CAST(assignment_count AS TEXT) || '|' || CAST(violation_count AS TEXT) || '|' || CAST(open_violation_count AS TEXT) FROM policy_compliance_view"),
    ("user_activity_summary_view", "SELECT username || '|' || CAST(request_count AS TEXT) || '|' || CAST(tokens_used AS TEXT) || '|' || CAST(cost_micros AS TEXT) || '|' || CAST(active_session_count AS TEXT) FROM user_activity_summary_view"),
];

async fn fill(store: &Store) {
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    let t = demo::TENANT_ID;
    let root = demo::ROOT_TEAM_ID;
    for sql in [
        format!("INSERT INTO teams (id, tenant_id, parent_team_id, name) VALUES ('00000000-0000-0000-0000-0000000000a1', '{t}', '{root}', 'Legal')"),
        format!("INSERT INTO teams (id, tenant_id, parent_team_id, name) VALUES ('00000000-0000-0000-0000-0000000000a2', '{t}', '00000000-0000-0000-0000-0000000000a1', 'Contracts')"),
        String::from("INSERT INTO sessions (id, user_id, token_hash, expires_at) SELECT '00000000-0000-0000-0000-0000000000b1', id, 'h1', '2999-01-01T00:00:00.000Z' FROM users"),
        String::from("INSERT INTO sessions (id, user_id, token_hash, expires_at, created_at) SELECT '00000000-0000-0000-0000-0000000000b2', id, 'h2', '2001-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z' FROM users"),
        format!("INSERT INTO alerts (id, tenant_id, alert_type, severity, title, resource_type, resource_id) VALUES ('00000000-0000-0000-0000-0000000000c1', '{t}', 'budget', 'warning', '80% of budget', 'team', '{root}')"),
        format!("INSERT INTO alerts (id, tenant_id, alert_type, severity, title, resource_type, resource_id) VALUES ('00000000-0000-0000-0000-0000000000c2', '{t}', 'policy_violation', 'critical', 'PII blocked', 'policy', '00000000-0000-7000-8000-000000000203')"),
        format!("INSERT INTO alerts (id, tenant_id, alert_type, severity, title, resource_type, resource_id, status, resolved_at) VALUES ('00000000-0000-0000-0000-0000000000c3', '{t}', 'policy_violation', 'critical', 'PII blocked', 'policy', '00000000-0000-7000-8000-000000000203', 'resolved', '2026-01-01T00:00:00.000Z')"),
    ] {
        store.execute_raw(&sql).await.unwrap();
    }
}

async fn rows(store: &Store) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (view, sql) in PROBES {
        let mut r = store.strings_raw(sql).await.unwrap();
        r.sort();
        out.push((view.to_string(), r));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_return_the_same_rows_on_both_backends() {
    let sqlite = TestDb::new(Backend::Sqlite).await.unwrap();
    let Some(postgres) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let (a, b) = (sqlite.migrated().await, postgres.migrated().await);
    fill(&a).await;
    fill(&b).await;
    let (ra, rb) = (rows(&a).await, rows(&b).await);
    for ((view, left), (_, right)) in ra.iter().zip(&rb) {
        assert!(
            !left.is_empty(),
            "{view} returned nothing: the probe proves nothing"
        );
        // Booleans print as 0/1 on SQLite and false/true on PostgreSQL.
        let norm = |v: &Vec<String>| {
            v.iter()
                .map(|s| s.replace("|true", "|1").replace("|false", "|0"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            norm(left),
            norm(right),
            "{view} differs between SQLite and PostgreSQL"
        );
    }
    let perms = &ra[0].1;
    assert!(
        perms.iter().any(|p| p == "admin|Super Admin|*|0"),
        "{perms:?}"
    );
    assert!(
        perms.iter().any(|p| p == "admin|Super Admin|usage:read|4"),
        "inherited from Viewer: {perms:?}"
    );
    assert!(
        ra[1]
            .1
            .iter()
            .any(|p| p == "Contracts|3|Organization > Legal > Contracts|0|0"),
        "{:?}",
        ra[1].1
    );
    assert_eq!(
        ra[3].1,
        vec!["admin@llmgovernance.local|1".to_string()],
        "expired session excluded"
    );
}
