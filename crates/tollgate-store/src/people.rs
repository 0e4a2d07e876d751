//! People and organisation: users, teams, memberships and role assignments (seeds 003, 004).
//! Passwords arrive already hashed (argon2id); people appear in usage and audit rows only by
//! their pseudonymous `subject_id`.

use uuid::Uuid;

use crate::backend::on_tx;
use crate::change::Change;
use crate::sql::DbId;
use crate::{Scope, StoreError};

/// A new local user.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Row id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Pseudonym used in usage and audit rows.
    pub subject_id: Uuid,
    /// Unique user name.
    pub username: String,
    /// Unique email address.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Full name.
    pub full_name: Option<String>,
    /// Full access everywhere.
    pub is_superuser: bool,
    /// The password is one-time and must be changed at first sign-in.
    pub must_change_password: bool,
}

/// A new team.
#[derive(Clone, Debug)]
pub struct NewTeam {
    /// Row id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Parent team; `None` for a root team.
    pub parent_team_id: Option<Uuid>,
    /// Name, unique among siblings.
    pub name: String,
    /// Budget in micro-units of `currency` per `period`; `None` for no budget.
    pub budget_micros: Option<i64>,
    /// ISO 4217 code.
    pub currency: String,
    /// `daily`, `weekly`, `monthly`, `quarterly` or `yearly`.
    pub period: String,
}

impl Change {
    /// Inserts a user unless the id, user name or email is taken; returns whether it was new.
    pub async fn insert_user(&mut self, u: &NewUser) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO users (id, tenant_id, subject_id, username, email, password_hash, full_name,
                auth_provider, is_superuser, must_change_password)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'local', $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(DbId(u.id))
        .bind(DbId(u.tenant_id))
        .bind(DbId(u.subject_id))
        .bind(&u.username)
        .bind(&u.email)
        .bind(&u.password_hash)
        .bind(&u.full_name)
        .bind(u.is_superuser)
        .bind(u.must_change_password)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The id and subject id of the user with this email.
    pub async fn user_by_email(&mut self, email: &str) -> Result<Option<(Uuid, Uuid)>, StoreError> {
        let row: Option<(DbId, DbId)> = on_tx!(&mut self.tx, conn => sqlx::query_as(
            "SELECT id, subject_id FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.map(|(id, subject)| (id.0, subject.0)))
    }

    /// The person with this email (or user id), for issuing them a key: their id, subject
    /// id, tenant, and whether they are a superuser.
    pub async fn person(&mut self, email_or_id: &str) -> Result<Option<Person>, StoreError> {
        let by_id = Uuid::parse_str(email_or_id).ok().map(DbId);
        let row: Option<(DbId, DbId, DbId, bool)> = on_tx!(&mut self.tx, conn => sqlx::query_as(
            "SELECT id, subject_id, tenant_id, is_superuser FROM users WHERE email = $1 OR id = $2",
        )
        .bind(email_or_id)
        .bind(by_id)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.map(|(id, subject, tenant, superuser)| Person {
            id: id.0,
            subject_id: subject.0,
            tenant_id: tenant.0,
            is_superuser: superuser,
        }))
    }

    /// Inserts a team unless the id exists; returns whether it was new.
    pub async fn insert_team(&mut self, t: &NewTeam) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO teams (id, tenant_id, parent_team_id, name, budget_micros, budget_currency,
                budget_period)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(DbId(t.id))
        .bind(DbId(t.tenant_id))
        .bind(t.parent_team_id.map(DbId))
        .bind(&t.name)
        .bind(t.budget_micros)
        .bind(&t.currency)
        .bind(&t.period)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Adds a member to a team unless they are in it; returns whether they were added.
    pub async fn add_team_member(
        &mut self,
        team_id: Uuid,
        user_id: Uuid,
        role: &str,
    ) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(DbId(team_id))
        .bind(DbId(user_id))
        .bind(role)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Gives a user a role in a tenant, or in one team of it when `team_id` is set. The same
    /// role in the same scope is held once; returns whether it was new.
    pub async fn assign_role(
        &mut self,
        user_id: Uuid,
        role_id: Uuid,
        tenant_id: Uuid,
        team_id: Option<Uuid>,
        assigned_by: Option<Uuid>,
    ) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO user_roles (id, user_id, role_id, tenant_id, team_id, assigned_by)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(DbId(tollgate_domain::id::random()))
        .bind(DbId(user_id))
        .bind(DbId(role_id))
        .bind(DbId(tenant_id))
        .bind(team_id.map(DbId))
        .bind(assigned_by.map(DbId))
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Applies a policy to a whole tenant unless it is already; returns whether it was new.
    pub async fn assign_policy_to_tenant(
        &mut self,
        policy_id: Uuid,
        tenant_id: Uuid,
    ) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO policy_assignments (id, policy_id, tenant_id, target_type)
             VALUES ($1, $2, $3, 'tenant') ON CONFLICT DO NOTHING",
        )
        .bind(DbId(tollgate_domain::id::random()))
        .bind(DbId(policy_id))
        .bind(DbId(tenant_id))
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Gives a tenant the default firewall configuration (retention 90 days) unless it has one.
    pub async fn ensure_firewall_config(&mut self, tenant_id: Uuid) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO firewall_configs (id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(DbId(tollgate_domain::id::random()))
        .bind(DbId(tenant_id))
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}

/// Who a user is, for issuing them keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Person {
    /// Row id.
    pub id: Uuid,
    /// Pseudonymous id (what the audit log names).
    pub subject_id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Whether they may act across tenants.
    pub is_superuser: bool,
}

/// A user as the control plane shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Unique user name.
    pub username: String,
    /// Unique email.
    pub email: String,
    /// Whether they may sign in.
    pub is_active: bool,
    /// Whether they must replace a one-time password first.
    pub must_change_password: bool,
    /// Whether they may act across tenants.
    pub is_superuser: bool,
    /// Their pseudonym in the audit log.
    pub subject_id: Uuid,
}

/// One team in its tenant's tree (from `team_hierarchy_view`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamNode {
    /// The team.
    pub team_id: Uuid,
    /// Its parent.
    pub parent_team_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Level, 1 for a root team.
    pub depth: i32,
    /// Names from the root, joined with " > ".
    pub path: String,
    /// Direct members.
    pub member_count: i64,
}

impl crate::Store {
    /// The user with this id in `tenant_id`.
    pub async fn user(&self, tenant_id: Uuid, id: Uuid) -> Result<User, StoreError> {
        let mut tx = self.begin_read_in(Scope::Tenant(tenant_id)).await?;
        type Row = (DbId, DbId, String, String, bool, bool, bool, DbId);
        let row: Option<Row> = on_tx!(&mut tx, conn => sqlx::query_as(
            "SELECT id, tenant_id, username, email, is_active, must_change_password, is_superuser,
                    subject_id
             FROM users WHERE id = $1 AND tenant_id = $2",
        )
        .bind(DbId(id))
        .bind(DbId(tenant_id))
        .fetch_optional(&mut *conn)
        .await)?;
        tx.commit().await?;
        let (
            id,
            tenant_id,
            username,
            email,
            is_active,
            must_change_password,
            is_superuser,
            subject,
        ) = row.ok_or_else(|| StoreError::NotFound {
            what: "user",
            id: id.to_string(),
        })?;
        Ok(User {
            id: id.0,
            tenant_id: tenant_id.0,
            username,
            email,
            is_active,
            must_change_password,
            is_superuser,
            subject_id: subject.0,
        })
    }

    /// Every permission a user holds in their tenant or one of its teams, inherited ones
    /// included, each once and sorted.
    pub async fn permissions_of(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> Result<Vec<String>, StoreError> {
        // The same rules as user_permissions_view, but the recursion starts from this user's
        // assignments instead of expanding everyone's and filtering afterwards.
        let sql = match self.backend() {
            crate::Backend::Sqlite => PERMISSIONS_SQLITE,
            crate::Backend::Postgres => PERMISSIONS_POSTGRES,
        };
        let mut tx = self.begin_read_in(Scope::Tenant(tenant_id)).await?;
        let permissions = on_tx!(&mut tx, conn => sqlx::query_scalar(sql)
        .bind(DbId(user_id))
        .bind(DbId(tenant_id))
        .fetch_all(&mut *conn)
        .await)?;
        tx.commit().await?;
        // Sorted here: PostgreSQL's collation and SQLite's BINARY order would differ.
        let mut permissions: Vec<String> = permissions;
        permissions.sort();
        Ok(permissions)
    }

    /// A tenant's teams as a tree, ordered by path.
    pub async fn team_tree(&self, tenant_id: Uuid) -> Result<Vec<TeamNode>, StoreError> {
        let mut tx = self.begin_read_in(Scope::Tenant(tenant_id)).await?;
        let rows: Vec<(DbId, Option<DbId>, String, i32, String, i64)> = on_tx!(&mut tx, conn => sqlx::query_as(
            "SELECT team_id, parent_team_id, name, depth, path, member_count
             FROM team_hierarchy_view WHERE tenant_id = $1",
        )
        .bind(DbId(tenant_id))
        .fetch_all(&mut *conn)
        .await)?;
        tx.commit().await?;
        let mut tree: Vec<TeamNode> = rows
            .into_iter()
            .map(
                |(team_id, parent, name, depth, path, member_count)| TeamNode {
                    team_id: team_id.0,
                    parent_team_id: parent.map(|p| p.0),
                    name,
                    depth,
                    path,
                    member_count,
                },
            )
            .collect();
        tree.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(tree)
    }
}

/// Permissions of `$1` in tenant `$2`, inherited ones included (`{now}` and `{expand}` differ
/// per backend).
macro_rules! permissions_sql {
    ($now:literal, $expand:literal) => {
        concat!(
            "WITH RECURSIVE granted(role_id, parent_role_id, depth) AS (
                SELECT r.id, r.parent_role_id, 0
                FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                WHERE ur.user_id = $1 AND ur.tenant_id = $2
                  AND (ur.expires_at IS NULL OR ur.expires_at > ",
            $now,
            ")
                UNION ALL
                SELECT p.id, p.parent_role_id, g.depth + 1
                FROM granted g JOIN roles p ON p.id = g.parent_role_id
                WHERE g.depth < 10
            )
            SELECT DISTINCT perm.value
            FROM granted g JOIN roles r ON r.id = g.role_id ",
            $expand,
            "
            WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.is_active)"
        )
    };
}

const PERMISSIONS_SQLITE: &str = permissions_sql!(
    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    "JOIN json_each(r.permissions) AS perm"
);

const PERMISSIONS_POSTGRES: &str = permissions_sql!(
    "now()",
    "CROSS JOIN LATERAL jsonb_array_elements_text(r.permissions) AS perm(value)"
);
