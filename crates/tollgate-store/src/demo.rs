//! `tollgate seed --demo`: the demo tenant of seeds 000 and 003. Idempotent: every row has a
//! fixed id or a natural key, and a second run finds them and changes nothing.

use chrono::{Duration, Utc};
use serde_json::json;
use tollgate_domain::{builtin, demo, key, password};
use uuid::Uuid;

use crate::audit::NewAuditEntry;
use crate::keys::NewKey;
use crate::people::{NewTeam, NewUser};
use crate::tenants::{NewApp, NewTenant};
use crate::usage::UsageRecord;
use crate::{Scope, Store, StoreError};

/// Choices for the demo data.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Currency of the root team's budget.
    pub currency: String,
    /// Budget period of the root team.
    pub budget_period: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            currency: "USD".to_string(),
            budget_period: "monthly".to_string(),
        }
    }
}

/// What seeding created. Secrets appear here once and are stored nowhere.
#[derive(Clone, Debug, Default)]
pub struct DemoReport {
    /// Whether the demo tenant was new.
    pub tenant_created: bool,
    /// Keys created now: (name, secret).
    pub keys: Vec<(String, String)>,
    /// The admin's one-time password, when the admin was created now.
    pub admin_password: Option<String>,
    /// Usage rows inserted now.
    pub usage_rows: u64,
}

impl DemoReport {
    /// Whether this run created anything at all.
    pub fn changed_anything(&self) -> bool {
        self.tenant_created
            || !self.keys.is_empty()
            || self.admin_password.is_some()
            || self.usage_rows > 0
    }
}

/// Credits each demo key starts with: 1,000 units.
const DEMO_KEY_CREDITS: i64 = 1_000_000_000;

impl Store {
    /// Creates whatever of the demo data set is missing.
    pub async fn seed_demo(&self, options: &DemoOptions) -> Result<DemoReport, StoreError> {
        let mut report = DemoReport::default();
        let mut rng = rand::thread_rng();
        let rows = demo::usage_rows(demo::USAGE_ROW_COUNT, demo::USAGE_SEED);
        let mut tx = self.begin_change(Scope::System("demo seed")).await?;

        report.tenant_created = tx
            .insert_tenant(&NewTenant {
                id: demo::TENANT_ID,
                name: demo::TENANT_NAME.to_string(),
                email: demo::TENANT_EMAIL.to_string(),
            })
            .await?;
        tx.insert_app(&NewApp {
            id: demo::APP_ID,
            tenant_id: demo::TENANT_ID,
            name: demo::APP_NAME.to_string(),
            allowed_origins: demo::ALLOWED_ORIGINS
                .iter()
                .map(|o| o.to_string())
                .collect(),
        })
        .await?;
        tx.insert_team(&NewTeam {
            id: demo::ROOT_TEAM_ID,
            tenant_id: demo::TENANT_ID,
            parent_team_id: None,
            name: demo::ROOT_TEAM_NAME.to_string(),
            budget_micros: Some(
                demo::ROOT_TEAM_BUDGET_UNITS * tollgate_domain::money::MICROS_PER_UNIT,
            ),
            currency: options.currency.clone(),
            period: options.budget_period.clone(),
        })
        .await?;
        for (policy_id, _, _) in builtin::DEFAULT_POLICIES {
            tx.assign_policy_to_tenant(policy_id, demo::TENANT_ID)
                .await?;
        }
        tx.ensure_firewall_config(demo::TENANT_ID).await?;

        let admin = match tx.user_by_email(demo::ADMIN_EMAIL).await? {
            Some(existing) => existing,
            None => {
                let one_time = password::one_time(&mut rng);
                let phc = password::hash(&one_time, &mut rng)
                    .map_err(|e| StoreError::Refused(e.to_string()))?;
                let (id, subject) = (tollgate_domain::id::random(), tollgate_domain::id::random());
                let created = tx
                    .insert_user(&NewUser {
                        id,
                        tenant_id: demo::TENANT_ID,
                        subject_id: subject,
                        username: demo::ADMIN_USERNAME.to_string(),
                        email: demo::ADMIN_EMAIL.to_string(),
                        password_hash: phc,
                        full_name: Some("Demo Administrator".to_string()),
                        is_superuser: true,
                        must_change_password: true,
                    })
                    .await?;
                if !created {
                    return Err(StoreError::Conflict(format!(
                        "the user name `{}` is taken by another user; the demo admin cannot be created",
                        demo::ADMIN_USERNAME
                    )));
                }
                report.admin_password = Some(one_time);
                (id, subject)
            }
        };
        tx.assign_role(
            admin.0,
            builtin::ROLE_SUPER_ADMIN,
            demo::TENANT_ID,
            None,
            None,
        )
        .await?;
        tx.add_team_member(demo::ROOT_TEAM_ID, admin.0, "lead")
            .await?;

        let existing = tx.key_names_of_app(demo::APP_ID).await?;
        let mut key_ids = Vec::with_capacity(demo::KEY_COUNT);
        for i in 0..demo::KEY_COUNT {
            let name = format!("Demo Key {}", i + 1);
            let id = demo_key_id(i);
            key_ids.push(id);
            if existing.contains(&name) {
                continue;
            }
            let spent: i64 = rows
                .iter()
                .filter(|r| r.key_index == i && r.success)
                .map(|r| r.cost.0)
                .sum();
            let issued = key::issue(key::KeyKind::Gateway, &mut rng);
            tx.insert_key(&NewKey {
                id,
                tenant_id: demo::TENANT_ID,
                kind: key::KeyKind::Gateway,
                app_id: Some(demo::APP_ID),
                user_id: None,
                team_id: Some(demo::ROOT_TEAM_ID),
                name: name.clone(),
                issued: &issued,
                scopes: Vec::new(),
                credits: Some(DEMO_KEY_CREDITS - spent),
                allowed_models: None,
            })
            .await?;
            report.keys.push((name, issued.secret));
        }
        let now = Utc::now();
        let records: Vec<UsageRecord> = rows
            .iter()
            .map(|r| UsageRecord {
                id: r.request_id,
                tenant_id: demo::TENANT_ID,
                app_id: Some(demo::APP_ID),
                api_key_id: Some(key_ids[r.key_index]),
                team_id: Some(demo::ROOT_TEAM_ID),
                subject_id: Some(admin.1),
                device_id: None,
                provider: r.provider.to_string(),
                model: r.model.to_string(),
                endpoint: crate::usage::Endpoint::Chat,
                prompt_length: r.prompt_length,
                pii_detected: r.pii_detected,
                pii_types: if r.pii_detected {
                    vec!["EMAIL".to_string()]
                } else {
                    Vec::new()
                },
                prompt_tokens: r.prompt_tokens,
                completion_tokens: if r.success { r.completion_tokens } else { 0 },
                cost_micros: if r.success { r.cost.0 } else { 0 },
                credits_deducted: if r.success { r.cost.0 } else { 0 },
                latency_ms: Some(200 + r.prompt_length * 3),
                upstream_latency_ms: Some(190 + r.prompt_length * 3),
                error_type: (!r.success).then(|| "upstream_error".to_string()),
                http_status: Some(if r.success { 200 } else { 502 }),
                streamed: false,
                created_at: now - Duration::minutes(r.minutes_ago),
            })
            .collect();
        // Only rows that are new are inserted, so a second run leaves the first run's times.
        let refs: Vec<&UsageRecord> = records.iter().collect();
        report.usage_rows = tx.insert_usage(demo::TENANT_ID, &refs).await?;

        // One transaction: a failure anywhere leaves nothing behind, so no key is ever stored
        // whose secret was not shown.
        if report.changed_anything() {
            tx.commit(NewAuditEntry::system(
                "demo.seed",
                "tenant",
                Some(demo::TENANT_ID.to_string()),
                json!({
                    "tenant_created": report.tenant_created,
                    "keys_created": report.keys.len(),
                    "admin_created": report.admin_password.is_some(),
                    "usage_rows": report.usage_rows,
                }),
            ))
            .await?;
        }
        Ok(report)
    }
}

/// Demo key ids are fixed so that demo usage rows point at the same keys on every run.
fn demo_key_id(index: usize) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0030 + index as u128)
}
