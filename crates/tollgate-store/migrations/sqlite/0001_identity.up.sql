-- Identity and organisation: tenants, apps, teams, users, keys, roles, sessions, MFA, system config.
-- SQLite dialect of migrations/postgres/0001_identity.up.sql; keep the two in step.
-- Seeds 000 (tenant -> app -> license), 003 (users, roles, teams, sessions, mfa, api keys) and 004 (users, roles, system_config).

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings) AND json_type(settings) = 'object'),
    is_active   INTEGER NOT NULL DEFAULT true,
    deleted_at  TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT uq_tenants_email UNIQUE (email),
    CONSTRAINT ck_tenants_soft_delete CHECK (deleted_at IS NULL OR NOT is_active)
);

CREATE TABLE apps (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    app_name        TEXT NOT NULL CHECK (length(app_name) BETWEEN 1 AND 200),
    allowed_origins TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allowed_origins) AND json_type(allowed_origins) = 'array'),
    is_active       INTEGER NOT NULL DEFAULT true,
    deleted_at      TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT ck_apps_soft_delete CHECK (deleted_at IS NULL OR NOT is_active)
);
CREATE INDEX idx_apps_tenant ON apps (tenant_id);
CREATE INDEX idx_apps_active ON apps (tenant_id) WHERE is_active;

CREATE TABLE teams (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    parent_team_id  TEXT REFERENCES teams(id),
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description     TEXT,
    budget_micros   INTEGER CHECK (budget_micros IS NULL OR budget_micros >= 0),
    budget_currency TEXT NOT NULL DEFAULT 'USD' CHECK (budget_currency GLOB '[A-Z][A-Z][A-Z]'),
    budget_period   TEXT NOT NULL DEFAULT 'monthly'
                    CHECK (budget_period IN ('daily', 'weekly', 'monthly', 'quarterly', 'yearly')),
    is_active       INTEGER NOT NULL DEFAULT true,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT ck_teams_not_own_parent CHECK (parent_team_id IS NOT id)
);
CREATE INDEX idx_teams_tenant ON teams (tenant_id);
CREATE INDEX idx_teams_parent ON teams (parent_team_id);
CREATE UNIQUE INDEX uq_teams_sibling_name
    ON teams (tenant_id, COALESCE(parent_team_id, '00000000-0000-0000-0000-000000000000'), name);

CREATE TABLE users (
    id                    TEXT PRIMARY KEY NOT NULL,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    subject_id            TEXT NOT NULL,
    username              TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 255),
    email                 TEXT NOT NULL CHECK (instr(email, '@') > 1),
    password_hash         TEXT,
    full_name             TEXT,
    auth_provider         TEXT NOT NULL DEFAULT 'local' CHECK (auth_provider IN ('local', 'oidc', 'saml', 'oauth')),
    external_id           TEXT,
    is_active             INTEGER NOT NULL DEFAULT true,
    is_superuser          INTEGER NOT NULL DEFAULT false,
    must_change_password  INTEGER NOT NULL DEFAULT false,
    mfa_enabled           INTEGER NOT NULL DEFAULT false,
    failed_login_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_login_attempts >= 0),
    locked_until          TEXT,
    last_login            TEXT,
    password_changed_at   TEXT,
    deleted_at            TEXT,
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT uq_users_subject UNIQUE (subject_id),
    CONSTRAINT ck_users_local_or_external CHECK (auth_provider = 'local' OR external_id IS NOT NULL)
);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX ix_users_external_id ON users (external_id);
CREATE INDEX ix_users_email_auth_provider ON users (email, auth_provider);
CREATE INDEX idx_users_tenant ON users (tenant_id);

CREATE TABLE api_keys (
    id                TEXT PRIMARY KEY NOT NULL,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('gateway', 'admin')),
    app_id            TEXT REFERENCES apps(id) ON DELETE CASCADE,
    team_id           TEXT REFERENCES teams(id) ON DELETE SET NULL,
    user_id           TEXT REFERENCES users(id) ON DELETE CASCADE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_prefix        TEXT NOT NULL,
    key_hash          TEXT NOT NULL,
    scopes            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    credits_remaining INTEGER CHECK (credits_remaining IS NULL OR credits_remaining >= 0),
    expires_at        TEXT,
    last_used_at      TEXT,
    is_active         INTEGER NOT NULL DEFAULT true,
    revoked_at        TEXT,
    revoked_by        TEXT REFERENCES users(id) ON DELETE SET NULL,
    revoke_reason     TEXT,
    created_by        TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT uq_api_keys_hash UNIQUE (key_hash),
    -- A gateway key (seed 000 licence) belongs to an app and may carry credits; an admin key
    -- (seed 003 api key) belongs to a user and carries scopes. Neither can stand in for the other.
    CONSTRAINT ck_api_keys_kind CHECK (
        (kind = 'gateway' AND app_id IS NOT NULL AND scopes = '[]')
        OR (kind = 'admin' AND user_id IS NOT NULL AND app_id IS NULL AND credits_remaining IS NULL)
    ),
    CONSTRAINT ck_api_keys_revoked CHECK (revoked_at IS NULL OR NOT is_active)
);
CREATE INDEX idx_api_keys_tenant ON api_keys (tenant_id);
CREATE INDEX idx_api_keys_app ON api_keys (app_id);
CREATE INDEX idx_api_keys_user ON api_keys (user_id);
CREATE INDEX idx_api_keys_prefix ON api_keys (key_prefix);

CREATE TABLE roles (
    id             TEXT PRIMARY KEY NOT NULL,
    tenant_id      TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    description    TEXT,
    parent_role_id TEXT REFERENCES roles(id),
    permissions    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
    is_system_role INTEGER NOT NULL DEFAULT false,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT ck_roles_not_own_parent CHECK (parent_role_id IS NOT id),
    CONSTRAINT ck_roles_system_global CHECK (NOT is_system_role OR tenant_id IS NULL)
);
CREATE UNIQUE INDEX ix_roles_name
    ON roles (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'), name);
CREATE INDEX idx_roles_parent ON roles (parent_role_id);

CREATE TABLE user_roles (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    team_id     TEXT REFERENCES teams(id) ON DELETE CASCADE,
    assigned_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    assigned_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    expires_at  TEXT
);
-- The scope is the team when team_id is set, else the tenant: (user, role, scope) is unique.
CREATE UNIQUE INDEX uq_user_role
    ON user_roles (user_id, role_id, COALESCE(team_id, tenant_id));
CREATE INDEX ix_user_roles_user_id ON user_roles (user_id);
CREATE INDEX ix_user_roles_role_id ON user_roles (role_id);

CREATE TABLE team_members (
    team_id   TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role      TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'lead')),
    joined_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    added_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX idx_team_members_user ON team_members (user_id);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL,
    ip_address    TEXT,
    user_agent    TEXT,
    mfa_verified  INTEGER NOT NULL DEFAULT false,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    revoke_reason TEXT,
    CONSTRAINT uq_sessions_token_hash UNIQUE (token_hash),
    CONSTRAINT ck_sessions_expiry CHECK (expires_at > created_at)
);
CREATE INDEX idx_sessions_user ON sessions (user_id);
CREATE INDEX idx_sessions_expires ON sessions (expires_at) WHERE revoked_at IS NULL;

CREATE TABLE mfa_secrets (
    id                   TEXT PRIMARY KEY NOT NULL,
    user_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_ciphertext    BLOB NOT NULL,
    algorithm            TEXT NOT NULL DEFAULT 'SHA1' CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    digits               INTEGER NOT NULL DEFAULT 6 CHECK (digits BETWEEN 6 AND 8),
    period_seconds       INTEGER NOT NULL DEFAULT 30 CHECK (period_seconds BETWEEN 15 AND 120),
    recovery_code_hashes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(recovery_code_hashes) AND json_type(recovery_code_hashes) = 'array'),
    verified_at          TEXT,
    last_used_step       INTEGER,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT uq_mfa_secrets_user UNIQUE (user_id)
);

CREATE TABLE system_config (
    id          TEXT PRIMARY KEY NOT NULL,
    key         TEXT NOT NULL CHECK (key GLOB '[A-Za-z]*' AND key NOT GLOB '*[^A-Za-z0-9_.]*'),
    value       TEXT NOT NULL,
    value_type  TEXT NOT NULL CHECK (value_type IN ('string', 'int', 'bool', 'json')),
    description TEXT,
    is_secret   INTEGER NOT NULL DEFAULT false,
    updated_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT uq_system_config_key UNIQUE (key),
    CONSTRAINT ck_system_config_typed CHECK (
        (value_type = 'string')
        OR (value_type = 'int' AND CAST(CAST(value AS INTEGER) AS TEXT) = value AND length(ltrim(value, '-')) <= 18)
        OR (value_type = 'bool' AND value IN ('true', 'false'))
        OR (value_type = 'json' AND json_valid(value))
    )
);
CREATE UNIQUE INDEX ix_system_config_key ON system_config (key);
CREATE INDEX ix_system_config_updated_at ON system_config (updated_at);

-- Hierarchies (seed 003): no cycles and at most ten levels, whichever way a row is moved.


-- Hierarchies (seed 003): no cycles and at most ten levels, whichever way a row is moved.
CREATE TRIGGER trg_teams_hierarchy_insert BEFORE INSERT ON teams
WHEN NEW.parent_team_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'team hierarchy too deep: at most 10 levels are allowed')
    WHERE (WITH RECURSIVE anc(id, parent, depth) AS (
               SELECT id, parent_team_id, 1 FROM teams WHERE id = NEW.parent_team_id
               UNION ALL
               SELECT t.id, t.parent_team_id, anc.depth + 1 FROM teams t JOIN anc ON t.id = anc.parent
               WHERE anc.depth <= 11)
           SELECT max(depth) FROM anc) + 1 > 10;
END;

CREATE TRIGGER trg_teams_hierarchy_update BEFORE UPDATE OF parent_team_id ON teams
WHEN NEW.parent_team_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'team hierarchy cycle: a team cannot be placed under its own descendant')
    WHERE EXISTS (WITH RECURSIVE anc(id, parent, depth) AS (
               SELECT id, parent_team_id, 1 FROM teams WHERE id = NEW.parent_team_id
               UNION ALL
               SELECT t.id, t.parent_team_id, anc.depth + 1 FROM teams t JOIN anc ON t.id = anc.parent
               WHERE anc.depth <= 11)
           SELECT 1 FROM anc WHERE id = NEW.id);
    SELECT RAISE(ABORT, 'team hierarchy too deep: at most 10 levels are allowed')
    WHERE (WITH RECURSIVE anc(id, parent, depth) AS (
               SELECT id, parent_team_id, 1 FROM teams WHERE id = NEW.parent_team_id
               UNION ALL
               SELECT t.id, t.parent_team_id, anc.depth + 1 FROM teams t JOIN anc ON t.id = anc.parent
               WHERE anc.depth <= 11)
           SELECT max(depth) FROM anc)
        + (WITH RECURSIVE sub(id, depth) AS (
               SELECT NEW.id, 1
               UNION ALL
               SELECT t.id, sub.depth + 1 FROM teams t JOIN sub ON t.parent_team_id = sub.id
               WHERE sub.depth <= 11)
           SELECT max(depth) FROM sub) > 10;
END;

CREATE TRIGGER trg_roles_hierarchy_insert BEFORE INSERT ON roles
WHEN NEW.parent_role_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'role hierarchy too deep: at most 10 levels are allowed')
    WHERE (WITH RECURSIVE anc(id, parent, depth) AS (
               SELECT id, parent_role_id, 1 FROM roles WHERE id = NEW.parent_role_id
               UNION ALL
               SELECT t.id, t.parent_role_id, anc.depth + 1 FROM roles t JOIN anc ON t.id = anc.parent
               WHERE anc.depth <= 11)
           SELECT max(depth) FROM anc) + 1 > 10;
END;

CREATE TRIGGER trg_roles_hierarchy_update BEFORE UPDATE OF parent_role_id ON roles
WHEN NEW.parent_role_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'role hierarchy cycle: a role cannot inherit from its own descendant')
    WHERE EXISTS (WITH RECURSIVE anc(id, parent, depth) AS (
               SELECT id, parent_role_id, 1 FROM roles WHERE id = NEW.parent_role_id
               UNION ALL
               SELECT t.id, t.parent_role_id, anc.depth + 1 FROM roles t JOIN anc ON t.id = anc.parent
               WHERE anc.depth <= 11)
           SELECT 1 FROM anc WHERE id = NEW.id);
    SELECT RAISE(ABORT, 'role hierarchy too deep: at most 10 levels are allowed')
    WHERE (WITH RECURSIVE anc(id, parent, depth) AS (
               SELECT id, parent_role_id, 1 FROM roles WHERE id = NEW.parent_role_id
               UNION ALL
               SELECT t.id, t.parent_role_id, anc.depth + 1 FROM roles t JOIN anc ON t.id = anc.parent
               WHERE anc.depth <= 11)
           SELECT max(depth) FROM anc)
        + (WITH RECURSIVE sub(id, depth) AS (
               SELECT NEW.id, 1
               UNION ALL
               SELECT t.id, sub.depth + 1 FROM roles t JOIN sub ON t.parent_role_id = sub.id
               WHERE sub.depth <= 11)
           SELECT max(depth) FROM sub) > 10;
END;

CREATE TRIGGER trg_tenants_updated_at AFTER UPDATE ON tenants WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE tenants SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_apps_updated_at AFTER UPDATE ON apps WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE apps SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_teams_updated_at AFTER UPDATE ON teams WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE teams SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_users_updated_at AFTER UPDATE ON users WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE users SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_api_keys_updated_at AFTER UPDATE ON api_keys WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE api_keys SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_roles_updated_at AFTER UPDATE ON roles WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE roles SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_mfa_secrets_updated_at AFTER UPDATE ON mfa_secrets WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE mfa_secrets SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;

CREATE TRIGGER trg_system_config_updated_at AFTER UPDATE ON system_config WHEN NEW.updated_at IS OLD.updated_at
BEGIN UPDATE system_config SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = NEW.id; END;
