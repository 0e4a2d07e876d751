//! `tollgate tenants|apps|keys ...`: the operator's way to create tenants, apps and keys until
//! the admin API exists. Every change is recorded in the tenant's audit log.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use tollgate_config::Settings;
use tollgate_domain::audit::{SCOPE_READ, SCOPE_READ_SYSTEM};
use tollgate_domain::key::{issue, KeyKind};
use tollgate_domain::money::Micros;
use tollgate_domain::scope::ADMIN_SCOPES;
use tollgate_store::audit::NewAuditEntry;
use tollgate_store::keys::NewKey;
use tollgate_store::tenants::{NewApp, NewTenant};
use tollgate_store::Scope;
use uuid::Uuid;

use super::open_store;

#[derive(Debug, Subcommand)]
pub(super) enum TenantsCommand {
    /// Create a tenant and print its id.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Contact address (unique).
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum AppsCommand {
    /// Create an app of a tenant and print its id.
    Create {
        /// The tenant's id.
        #[arg(long)]
        tenant: Uuid,
        /// Display name.
        #[arg(long)]
        name: String,
        /// A browser origin allowed to call with the app's keys (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Create a gateway key for an app and print it once (only its hash is stored).
    Create(CreateKey),
    /// List keys (prefix, name, credits, status), never the secrets.
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<Uuid>,
    },
    /// Revoke a key: it stops working within gateway.key_cache_seconds on every replica.
    Revoke {
        /// The key's id (from `keys list`).
        id: Uuid,
        /// Why, for the audit log.
        #[arg(long, default_value = "revoked by the operator")]
        reason: String,
    },
    /// Limit a key to some models, or with `--all` let it call every model again.
    Models {
        /// The key's id.
        id: Uuid,
        /// A public model name from the model table (repeatable).
        #[arg(
            long = "model",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        models: Vec<String>,
        /// Every model the gateway serves, now and later.
        #[arg(long)]
        all: bool,
    },
    /// Create an audit key for a person and print it once: an admin key with the scope
    /// audit:read, which reads their tenant's audit log through /v1/audit (docs/audit.md).
    CreateAudit {
        /// The person's email or user id.
        #[arg(long)]
        user: String,
        /// Display name.
        #[arg(long, default_value = "audit")]
        name: String,
        /// Also read the system log (audit:read:system); only for superusers.
        #[arg(long)]
        system: bool,
    },
    /// Create an admin key for a person with the scopes named, and print it once: for the
    /// firewall and device routes under /api/v1 (docs/devices.md).
    CreateAdmin {
        /// The person's email or user id.
        #[arg(long)]
        user: String,
        /// Display name.
        #[arg(long, default_value = "admin")]
        name: String,
        /// A scope (repeatable): audit:read, firewall:read, firewall:write, devices:read,
        /// devices:write, retention:run.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// Add credits to a key that has a balance.
    TopUp {
        /// The key's id.
        id: Uuid,
        /// Amount in units of the currency, e.g. 25 or 12.50.
        #[arg(long, value_parser = parse_amount)]
        credits: Micros,
    },
}

#[derive(Debug, Args)]
pub(super) struct CreateKey {
    /// The app the key calls for.
    #[arg(long)]
    app: Uuid,
    /// Display name.
    #[arg(long, default_value = "key")]
    name: String,
    /// Starting credits in units of the currency (e.g. 100 or 12.50); without it the key is
    /// unlimited (budgets and policies still apply).
    #[arg(long, value_parser = parse_amount)]
    credits: Option<Micros>,
    /// The team whose budget and policies apply.
    #[arg(long)]
    team: Option<Uuid>,
    /// A public model name the key may call (repeatable); without it the key may call every
    /// model.
    #[arg(long = "model")]
    models: Vec<String>,
}

/// `None` for an empty list (every model); else the names, each checked against the model
/// table so a typo cannot leave a key with a name that never matches.
fn model_list(settings: &Settings, models: Vec<String>) -> Result<Option<Vec<String>>, String> {
    if models.is_empty() {
        return Ok(None);
    }
    let known: Vec<&str> = settings.models.iter().map(|m| m.name.as_str()).collect();
    match models.iter().find(|m| !known.contains(&m.as_str())) {
        Some(unknown) => Err(format!(
            "there is no model `{unknown}` in the model table; models: {}",
            known.join(", ")
        )),
        None => {
            let mut unique: Vec<String> = Vec::with_capacity(models.len());
            for model in models {
                if !unique.contains(&model) {
                    unique.push(model);
                }
            }
            Ok(Some(unique))
        }
    }
}

fn parse_amount(s: &str) -> Result<Micros, String> {
    let amount = Micros::parse(s).map_err(|e| e.to_string())?;
    if amount.0 < 0 {
        return Err("credits cannot be negative".to_string());
    }
    Ok(amount)
}

/// An operator action in the tenant's log.
fn audit(
    tenant: Uuid,
    action: &str,
    kind: &str,
    id: Uuid,
    details: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry::system(action, kind, Some(id.to_string()), details).in_log_of(tenant)
}

pub(super) async fn run_tenants(
    cmd: TenantsCommand,
    settings: Settings,
) -> anyhow::Result<ExitCode> {
    let TenantsCommand::Create { name, email } = cmd;
    let store = open_store(&settings).await?;
    let id = Uuid::new_v4();
    let mut tx = store
        .begin_change(Scope::System("cli tenants create"))
        .await?;
    tx.insert_tenant(&NewTenant { id, name, email }).await?;
    tx.commit(audit(id, "tenant.create", "tenant", id, json!({})))
        .await?;
    say!("{id}");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn run_apps(cmd: AppsCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    let AppsCommand::Create {
        tenant,
        name,
        origins,
    } = cmd;
    let store = open_store(&settings).await?;
    let id = Uuid::new_v4();
    let mut tx = store.begin_change(Scope::Tenant(tenant)).await?;
    tx.insert_app(&NewApp {
        id,
        tenant_id: tenant,
        name,
        allowed_origins: origins.clone(),
    })
    .await?;
    tx.commit(audit(
        tenant,
        "app.create",
        "app",
        id,
        json!({ "allowed_origins": origins }),
    ))
    .await?;
    say!("{id}");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn run_keys(cmd: KeysCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(&settings).await?;
    match cmd {
        KeysCommand::Create(args) => {
            let models = match model_list(&settings, args.models) {
                Ok(models) => models,
                Err(message) => {
                    say!("{message}");
                    return Ok(ExitCode::from(2));
                }
            };
            let mut tx = store.begin_change(Scope::System("cli keys create")).await?;
            let Some(tenant) = tx.app_tenant(args.app).await? else {
                say!(
                    "there is no app {}; `tollgate apps create` makes one",
                    args.app
                );
                return Ok(ExitCode::from(2));
            };
            let issued = issue(KeyKind::Gateway, &mut rand::thread_rng());
            let id = Uuid::new_v4();
            tx.insert_key(&NewKey {
                id,
                tenant_id: tenant,
                kind: KeyKind::Gateway,
                app_id: Some(args.app),
                user_id: None,
                team_id: args.team,
                name: args.name.clone(),
                issued: &issued,
                scopes: Vec::new(),
                credits: args.credits.map(|c| c.0),
                allowed_models: models.clone(),
            })
            .await?;
            let credits = args.credits.map(|c| c.to_string());
            tx.commit(audit(
                tenant,
                "key.create",
                "api_key",
                id,
                json!({
                    "name": args.name,
                    "prefix": issued.prefix,
                    "credits": credits,
                    "allowed_models": models,
                }),
            ))
            .await?;
            say!(
                "key {id} created; the secret is shown once:\n{}",
                issued.secret
            );
        }
        KeysCommand::CreateAudit { user, name, system } => {
            let mut scopes = vec![SCOPE_READ.to_string()];
            if system {
                scopes.push(SCOPE_READ_SYSTEM.to_string());
            }
            return create_admin_key(&store, &user, &name, scopes).await;
        }
        KeysCommand::CreateAdmin { user, name, scopes } => {
            if let Some(bad) = scopes.iter().find(|s| !ADMIN_SCOPES.contains(&s.as_str())) {
                say!(
                    "{bad:?} is not a scope; the scopes are {}",
                    ADMIN_SCOPES.join(", ")
                );
                return Ok(ExitCode::from(2));
            }
            return create_admin_key(&store, &user, &name, scopes).await;
        }
        KeysCommand::List { tenant } => {
            say!(
                "{:<36}  {:<16}  {:<20}  {:>16}  {:<8}",
                "id",
                "prefix",
                "name",
                "credits",
                "status"
            );
            for k in store.list_keys(tenant).await? {
                let credits = k
                    .credits_remaining
                    .map_or_else(|| "unlimited".to_string(), |c| Micros(c).to_string());
                say!(
                    "{:<36}  {:<16}  {:<20}  {:>16}  {:<8}",
                    k.id,
                    k.prefix,
                    k.name,
                    credits,
                    k.status
                );
            }
        }
        KeysCommand::Revoke { id, reason } => {
            let mut tx = store.begin_change(Scope::System("cli keys revoke")).await?;
            let Some(tenant) = tx.key_tenant(id).await? else {
                say!("there is no key {id}; `tollgate keys list` shows them");
                return Ok(ExitCode::from(2));
            };
            tx.lock_log_first(tenant).await?;
            if !tx.revoke_key(id, &reason).await? {
                say!("key {id} was revoked already");
                return Ok(ExitCode::SUCCESS);
            }
            tx.commit(audit(
                tenant,
                "key.revoke",
                "api_key",
                id,
                json!({ "reason": reason }),
            ))
            .await?;
            say!(
                "key {id} revoked; it stops working within {} s on every replica",
                settings.gateway.key_cache_seconds
            );
        }
        KeysCommand::Models { id, models, all } => {
            let models = if all {
                None
            } else {
                match model_list(&settings, models) {
                    Ok(models) => models,
                    Err(message) => {
                        say!("{message}");
                        return Ok(ExitCode::from(2));
                    }
                }
            };
            let mut tx = store.begin_change(Scope::System("cli keys models")).await?;
            let Some(tenant) = tx.key_tenant(id).await? else {
                say!("there is no key {id}; `tollgate keys list` shows them");
                return Ok(ExitCode::from(2));
            };
            tx.lock_log_first(tenant).await?;
            if !tx.set_key_models(id, models.as_deref()).await? {
                say!("key {id} is an admin key; only gateway keys call models");
                return Ok(ExitCode::from(2));
            }
            tx.commit(audit(
                tenant,
                "key.models",
                "api_key",
                id,
                json!({ "allowed_models": models }),
            ))
            .await?;
            match models {
                None => say!("key {id} may call every model"),
                Some(models) => say!("key {id} may call: {}", models.join(", ")),
            }
            say!(
                "the change reaches every replica within {} s",
                settings.gateway.key_cache_seconds
            );
        }
        KeysCommand::TopUp { id, credits } => {
            let mut tx = store.begin_change(Scope::System("cli keys top-up")).await?;
            let Some(tenant) = tx.key_tenant(id).await? else {
                say!("there is no key {id}; `tollgate keys list` shows them");
                return Ok(ExitCode::from(2));
            };
            tx.lock_log_first(tenant).await?;
            let Some(balance) = tx.top_up_key(id, credits.0).await? else {
                say!("key {id} is unlimited; it has no balance to top up");
                return Ok(ExitCode::from(2));
            };
            tx.commit(audit(
                tenant,
                "key.top_up",
                "api_key",
                id,
                json!({ "amount": credits.to_string() }),
            ))
            .await?;
            say!("key {id} now has {} credits", Micros(balance));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates an admin key of a person with `scopes` and prints it once.
async fn create_admin_key(
    store: &tollgate_store::Store,
    user: &str,
    name: &str,
    scopes: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let mut tx = store
        .begin_change(Scope::System("cli keys create-admin"))
        .await?;
    let Some(person) = tx.person(user).await? else {
        say!("there is no user {user:?} (give their email or user id)");
        return Ok(ExitCode::from(2));
    };
    if scopes.iter().any(|s| s == SCOPE_READ_SYSTEM) && !person.is_superuser {
        say!("only a superuser may read the system log; {user} is not one");
        return Ok(ExitCode::from(2));
    }
    let issued = issue(KeyKind::Admin, &mut rand::thread_rng());
    let id = Uuid::new_v4();
    tx.insert_key(&NewKey {
        id,
        tenant_id: person.tenant_id,
        kind: KeyKind::Admin,
        app_id: None,
        user_id: Some(person.id),
        team_id: None,
        name: name.to_string(),
        issued: &issued,
        scopes: scopes.clone(),
        credits: None,
        allowed_models: None,
    })
    .await?;
    tx.commit(audit(
        person.tenant_id,
        "key.create",
        "api_key",
        id,
        json!({ "name": name, "prefix": issued.prefix, "scopes": scopes }),
    ))
    .await?;
    say!(
        "admin key {id} of tenant {} created with {}; the secret is shown once:\n{}",
        person.tenant_id,
        scopes.join(", "),
        issued.secret
    );
    Ok(ExitCode::SUCCESS)
}
