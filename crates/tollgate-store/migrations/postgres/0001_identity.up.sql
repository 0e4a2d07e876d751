-- Identity and organisation: tenants, apps, teams, users, keys, roles, sessions, MFA, system config.
-- Seeds 000 (tenant -> app -> license), 003 (users, roles, teams, sessions, mfa, api keys) and 004 (users, roles, system_config).

CREATE FUNCTION tollgate_set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := date_trunc('milliseconds', now());
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text NOT NULL,
    settings    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    is_active   boolean NOT NULL DEFAULT true,
    deleted_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT uq_tenants_email UNIQUE (email),
    CONSTRAINT ck_tenants_soft_delete CHECK (deleted_at IS NULL OR NOT is_active)
);

CREATE TABLE apps (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    app_name        text NOT NULL CHECK (length(app_name) BETWEEN 1 AND 200),
    allowed_origins jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(allowed_origins) = 'array'),
    is_active       boolean NOT NULL DEFAULT true,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT ck_apps_soft_delete CHECK (deleted_at IS NULL OR NOT is_active)
);
CREATE INDEX idx_apps_tenant ON apps (tenant_id);
CREATE INDEX idx_apps_active ON apps (tenant_id) WHERE is_active;

CREATE TABLE teams (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    parent_team_id  uuid REFERENCES teams(id),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description     text,
    budget_micros   bigint CHECK (budget_micros IS NULL OR budget_micros >= 0),
    budget_currency text NOT NULL DEFAULT 'USD' CHECK (budget_currency ~ '^[A-Z]{3}$'),
    budget_period   text NOT NULL DEFAULT 'monthly'
                    CHECK (budget_period IN ('daily', 'weekly', 'monthly', 'quarterly', 'yearly')),
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT ck_teams_not_own_parent CHECK (parent_team_id IS DISTINCT FROM id)
);
CREATE INDEX idx_teams_tenant ON teams (tenant_id);
CREATE INDEX idx_teams_parent ON teams (parent_team_id);
CREATE UNIQUE INDEX uq_teams_sibling_name
    ON teams (tenant_id, COALESCE(parent_team_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

CREATE TABLE users (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    subject_id            uuid NOT NULL,
    username              text NOT NULL CHECK (length(username) BETWEEN 1 AND 255),
    email                 text NOT NULL CHECK (position('@' in email) > 1),
    password_hash         text,
    full_name             text,
    auth_provider         text NOT NULL DEFAULT 'local' CHECK (auth_provider IN ('local', 'oidc', 'saml', 'oauth')),
    external_id           text,
    is_active             boolean NOT NULL DEFAULT true,
    is_superuser          boolean NOT NULL DEFAULT false,
    must_change_password  boolean NOT NULL DEFAULT false,
    mfa_enabled           boolean NOT NULL DEFAULT false,
    failed_login_attempts integer NOT NULL DEFAULT 0 CHECK (failed_login_attempts >= 0),
    locked_until          timestamptz,
    last_login            timestamptz,
    password_changed_at   timestamptz,
    deleted_at            timestamptz,
    created_at            timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at            timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT uq_users_subject UNIQUE (subject_id),
    CONSTRAINT ck_users_local_or_external CHECK (auth_provider = 'local' OR external_id IS NOT NULL)
);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX ix_users_external_id ON users (external_id);
CREATE INDEX ix_users_email_auth_provider ON users (email, auth_provider);
CREATE INDEX idx_users_tenant ON users (tenant_id);

CREATE TABLE api_keys (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('gateway', 'admin')),
    app_id            uuid REFERENCES apps(id) ON DELETE CASCADE,
    team_id           uuid REFERENCES teams(id) ON DELETE SET NULL,
    user_id           uuid REFERENCES users(id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_prefix        text NOT NULL,
    key_hash          text NOT NULL,
    scopes            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(scopes) = 'array'),
    credits_remaining bigint CHECK (credits_remaining IS NULL OR credits_remaining >= 0),
    expires_at        timestamptz,
    last_used_at      timestamptz,
    is_active         boolean NOT NULL DEFAULT true,
    revoked_at        timestamptz,
    revoked_by        uuid REFERENCES users(id) ON DELETE SET NULL,
    revoke_reason     text,
    created_by        uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at        timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT uq_api_keys_hash UNIQUE (key_hash),
    -- A gateway key (seed 000 licence) belongs to an app and may carry credits; an admin key
    -- (seed 003 api key) belongs to a user and carries scopes. Neither can stand in for the other.
    CONSTRAINT ck_api_keys_kind CHECK (
        (kind = 'gateway' AND app_id IS NOT NULL AND scopes = '[]'::jsonb)
        OR (kind = 'admin' AND user_id IS NOT NULL AND app_id IS NULL AND credits_remaining IS NULL)
    ),
    CONSTRAINT ck_api_keys_revoked CHECK (revoked_at IS NULL OR NOT is_active)
);
CREATE INDEX idx_api_keys_tenant ON api_keys (tenant_id);
CREATE INDEX idx_api_keys_app ON api_keys (app_id);
CREATE INDEX idx_api_keys_user ON api_keys (user_id);
CREATE INDEX idx_api_keys_prefix ON api_keys (key_prefix);
CREATE INDEX idx_api_keys_scopes ON api_keys USING gin (scopes);

CREATE TABLE roles (
    id             uuid PRIMARY KEY,
    tenant_id      uuid REFERENCES tenants(id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    description    text,
    parent_role_id uuid REFERENCES roles(id),
    permissions    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(permissions) = 'array'),
    is_system_role boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT ck_roles_not_own_parent CHECK (parent_role_id IS DISTINCT FROM id),
    CONSTRAINT ck_roles_system_global CHECK (NOT is_system_role OR tenant_id IS NULL)
);
CREATE UNIQUE INDEX ix_roles_name
    ON roles (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), name);
CREATE INDEX idx_roles_parent ON roles (parent_role_id);
CREATE INDEX idx_roles_permissions ON roles USING gin (permissions);

CREATE TABLE user_roles (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id     uuid NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    team_id     uuid REFERENCES teams(id) ON DELETE CASCADE,
    assigned_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    assigned_by uuid REFERENCES users(id) ON DELETE SET NULL,
    expires_at  timestamptz
);
-- The scope is the team when team_id is set, else the tenant: (user, role, scope) is unique.
CREATE UNIQUE INDEX uq_user_role
    ON user_roles (user_id, role_id, COALESCE(team_id, tenant_id));
CREATE INDEX ix_user_roles_user_id ON user_roles (user_id);
CREATE INDEX ix_user_roles_role_id ON user_roles (role_id);

CREATE TABLE team_members (
    team_id   uuid NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id   uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role      text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'lead')),
    joined_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    added_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX idx_team_members_user ON team_members (user_id);

CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    text NOT NULL,
    ip_address    text,
    user_agent    text,
    mfa_verified  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    last_seen_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text,
    CONSTRAINT uq_sessions_token_hash UNIQUE (token_hash),
    CONSTRAINT ck_sessions_expiry CHECK (expires_at > created_at)
);
CREATE INDEX idx_sessions_user ON sessions (user_id);
CREATE INDEX idx_sessions_expires ON sessions (expires_at) WHERE revoked_at IS NULL;

CREATE TABLE mfa_secrets (
    id                   uuid PRIMARY KEY,
    user_id              uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_ciphertext    bytea NOT NULL,
    algorithm            text NOT NULL DEFAULT 'SHA1' CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    digits               integer NOT NULL DEFAULT 6 CHECK (digits BETWEEN 6 AND 8),
    period_seconds       integer NOT NULL DEFAULT 30 CHECK (period_seconds BETWEEN 15 AND 120),
    recovery_code_hashes jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(recovery_code_hashes) = 'array'),
    verified_at          timestamptz,
    last_used_step       bigint,
    created_at           timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at           timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT uq_mfa_secrets_user UNIQUE (user_id)
);

CREATE FUNCTION tollgate_is_json(candidate text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM candidate::jsonb;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END $$;

CREATE TABLE system_config (
    id          uuid PRIMARY KEY,
    key         text NOT NULL CHECK (key ~ '^[A-Za-z][A-Za-z0-9_.]*$'),
    value       text NOT NULL,
    value_type  text NOT NULL CHECK (value_type IN ('string', 'int', 'bool', 'json')),
    description text,
    is_secret   boolean NOT NULL DEFAULT false,
    updated_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT uq_system_config_key UNIQUE (key),
    CONSTRAINT ck_system_config_typed CHECK (
        (value_type = 'string')
        OR (value_type = 'int' AND value ~ '^(0|-?[1-9][0-9]{0,17})$')
        OR (value_type = 'bool' AND value IN ('true', 'false'))
        OR (value_type = 'json' AND tollgate_is_json(value))
    )
);
CREATE UNIQUE INDEX ix_system_config_key ON system_config (key);
CREATE INDEX ix_system_config_updated_at ON system_config (updated_at);

-- Hierarchies (seed 003): no cycles and at most ten levels, whichever way a row is moved.
CREATE FUNCTION tollgate_check_team_hierarchy() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    above integer;
    below integer;
    cyclic boolean;
BEGIN
    -- Concurrent moves could together form a cycle that neither sees: one at a time per tenant.
    PERFORM pg_advisory_xact_lock(hashtext('tollgate.teams.' || NEW.tenant_id::text));
    IF NEW.parent_team_id IS NULL THEN
        above := 0;
    ELSE
        WITH RECURSIVE anc(id, parent, depth) AS (
            SELECT id, parent_team_id, 1 FROM teams WHERE id = NEW.parent_team_id
            UNION ALL
            SELECT t.id, t.parent_team_id, anc.depth + 1 FROM teams t JOIN anc ON t.id = anc.parent
            WHERE anc.depth <= 11
        )
        SELECT max(depth), bool_or(id = NEW.id) INTO above, cyclic FROM anc;
        IF cyclic THEN
            RAISE EXCEPTION 'team hierarchy cycle: team % cannot be placed under its own descendant', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    WITH RECURSIVE sub(id, depth) AS (
        SELECT NEW.id, 1
        UNION ALL
        SELECT t.id, sub.depth + 1 FROM teams t JOIN sub ON t.parent_team_id = sub.id
        WHERE sub.depth <= 11
    )
    SELECT max(depth) INTO below FROM sub;
    IF above + below > 10 THEN
        RAISE EXCEPTION 'team hierarchy too deep: % levels, at most 10 are allowed', above + below
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION tollgate_check_role_hierarchy() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    above integer;
    below integer;
    cyclic boolean;
BEGIN
    -- Concurrent moves could together form a cycle that neither sees: one at a time per tenant.
    PERFORM pg_advisory_xact_lock(hashtext('tollgate.roles.' || COALESCE(NEW.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)::text));
    IF NEW.parent_role_id IS NULL THEN
        above := 0;
    ELSE
        WITH RECURSIVE anc(id, parent, depth) AS (
            SELECT id, parent_role_id, 1 FROM roles WHERE id = NEW.parent_role_id
            UNION ALL
            SELECT r.id, r.parent_role_id, anc.depth + 1 FROM roles r JOIN anc ON r.id = anc.parent
            WHERE anc.depth <= 11
        )
        SELECT max(depth), bool_or(id = NEW.id) INTO above, cyclic FROM anc;
        IF cyclic THEN
            RAISE EXCEPTION 'role hierarchy cycle: role % cannot inherit from its own descendant', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    WITH RECURSIVE sub(id, depth) AS (
        SELECT NEW.id, 1
        UNION ALL
        SELECT r.id, sub.depth + 1 FROM roles r JOIN sub ON r.parent_role_id = sub.id
        WHERE sub.depth <= 11
    )
    SELECT max(depth) INTO below FROM sub;
    IF above + below > 10 THEN
        RAISE EXCEPTION 'role hierarchy too deep: % levels, at most 10 are allowed', above + below
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER trg_teams_hierarchy BEFORE INSERT OR UPDATE OF parent_team_id ON teams
    FOR EACH ROW EXECUTE FUNCTION tollgate_check_team_hierarchy();
CREATE TRIGGER trg_roles_hierarchy BEFORE INSERT OR UPDATE OF parent_role_id ON roles
    FOR EACH ROW EXECUTE FUNCTION tollgate_check_role_hierarchy();

CREATE TRIGGER trg_tenants_updated_at BEFORE UPDATE ON tenants FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_apps_updated_at BEFORE UPDATE ON apps FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_teams_updated_at BEFORE UPDATE ON teams FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_api_keys_updated_at BEFORE UPDATE ON api_keys FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_roles_updated_at BEFORE UPDATE ON roles FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_mfa_secrets_updated_at BEFORE UPDATE ON mfa_secrets FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
CREATE TRIGGER trg_system_config_updated_at BEFORE UPDATE ON system_config FOR EACH ROW EXECUTE FUNCTION tollgate_set_updated_at();
