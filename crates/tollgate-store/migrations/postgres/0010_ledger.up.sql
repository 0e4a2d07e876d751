-- The audit ledger (issue 5, docs/audit.md). Entries written before this migration keep their
-- per-row checksums in audit_log_v0, read-only; new entries are ledger entries: a hash chain and
-- an RFC 9162 Merkle tree per log (a tenant's, or the system log when tenant_id is NULL), with
-- the tree's complete-subtree hashes stored write-once in audit_tree and signed checkpoints in
-- audit_checkpoints. Bodies (before/after values, details) sit apart in audit_bodies, so that
-- erasure and retention can delete a body without breaking a proof.
--
-- Nothing in the ledger is ever updated or deleted, not even by erasure: the triggers refuse it,
-- and the owning role (the one Tollgate runs as) gives up UPDATE, DELETE and TRUNCATE.

ALTER TABLE audit_log RENAME TO audit_log_v0;
ALTER TRIGGER trg_audit_log_append_only ON audit_log_v0 RENAME TO trg_audit_log_v0_append_only;
ALTER TRIGGER trg_audit_log_no_truncate ON audit_log_v0 RENAME TO trg_audit_log_v0_no_truncate;
ALTER INDEX uq_audit_log_seq RENAME TO uq_audit_log_v0_seq;
DROP INDEX ix_audit_logs_user_id;
DROP INDEX ix_audit_logs_action;
DROP INDEX ix_audit_logs_entity_id;
DROP INDEX ix_audit_logs_timestamp;
DROP INDEX ix_audit_logs_user_id_timestamp;
DROP INDEX ix_audit_logs_entity_type_entity_id;
DROP INDEX ix_audit_logs_correlation_id;
DROP INDEX idx_audit_log_details;

CREATE FUNCTION tollgate_reject_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is part of the audit ledger: % is refused (ledger rows are never changed or removed)',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER trg_audit_log_v0_closed BEFORE INSERT ON audit_log_v0
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_ledger_change();

-- The hashed part of each entry, in the columns of the canonical encoding (tollgate-ledger).
-- No foreign key to tenants: a tenant's log outlives the tenant (erasure removes its bodies).
CREATE TABLE audit_log (
    id            uuid PRIMARY KEY,
    tenant_id     uuid,
    -- The log as one plain column: row-level security keeps the planner from using an index
    -- on an expression, so every lookup by log goes through this one.
    log_id        uuid NOT NULL GENERATED ALWAYS AS (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)) STORED,
    seq           bigint NOT NULL CHECK (seq >= 1),
    version       smallint NOT NULL CHECK (version = 1),
    created_at    timestamptz NOT NULL,
    actor_type    text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'device', 'system')),
    actor_id      uuid,
    action        text NOT NULL CHECK (length(action) BETWEEN 1 AND 4096),
    resource_type text NOT NULL CHECK (length(resource_type) BETWEEN 1 AND 4096),
    resource_id   text CHECK (length(resource_id) <= 4096),
    outcome       text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    request_id    uuid,
    body_hash     bytea CHECK (length(body_hash) = 32),
    checksum      text NOT NULL CHECK (length(checksum) = 64)
);
CREATE UNIQUE INDEX uq_audit_log_seq ON audit_log (log_id, seq);
CREATE INDEX ix_audit_logs_user_id ON audit_log (actor_id);
CREATE INDEX ix_audit_logs_action ON audit_log (action);
CREATE INDEX ix_audit_logs_entity_id ON audit_log (resource_id);
CREATE INDEX ix_audit_logs_timestamp ON audit_log (created_at);
CREATE INDEX ix_audit_logs_user_id_timestamp ON audit_log (actor_id, created_at);
CREATE INDEX ix_audit_logs_entity_type_entity_id ON audit_log (resource_type, resource_id);
CREATE INDEX ix_audit_logs_correlation_id ON audit_log (request_id);

-- Every log that has entries, written once when its first entry is appended: what the
-- checkpoint signer and `audit verify` walk, without scanning the entries.
CREATE TABLE audit_log_list (
    log_id     uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);

-- What an entry's body_hash covers; deletable by erasure and retention only. No foreign key to
-- audit_log: checking one would lock the entry, which needs the UPDATE right the owner gave up.
CREATE TABLE audit_bodies (
    entry_id   uuid PRIMARY KEY,
    tenant_id  uuid REFERENCES tenants(id) ON DELETE CASCADE,
    before     jsonb,
    after      jsonb,
    details    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    ip_address text,
    user_agent text
);
CREATE INDEX ix_audit_bodies_tenant_id ON audit_bodies (tenant_id);
CREATE INDEX idx_audit_log_details ON audit_bodies USING gin (details);

-- Hashes of complete subtrees: level 0 holds the leaves, (level k, idx i) covers entries
-- i*2^k+1 .. (i+1)*2^k. Written once when the subtree fills, never changed.
CREATE TABLE audit_tree (
    log_id uuid NOT NULL,
    level  smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx    bigint NOT NULL CHECK (idx >= 0),
    hash   bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (log_id, level, idx)
);

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note), one per log and size.
CREATE TABLE audit_checkpoints (
    log_id     uuid NOT NULL,
    tree_size  bigint NOT NULL CHECK (tree_size >= 0),
    root       bytea NOT NULL CHECK (length(root) = 32),
    note       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
    PRIMARY KEY (log_id, tree_size)
);
CREATE INDEX ix_audit_checkpoints_created ON audit_checkpoints (created_at);

CREATE TRIGGER trg_audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_log_list_append_only BEFORE UPDATE OR DELETE ON audit_log_list
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_log_list_no_truncate BEFORE TRUNCATE ON audit_log_list
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_tree_append_only BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_ledger_change();
CREATE TRIGGER trg_audit_bodies_append_only BEFORE UPDATE OR DELETE ON audit_bodies
    FOR EACH ROW EXECUTE FUNCTION tollgate_reject_record_change();
CREATE TRIGGER trg_audit_bodies_no_truncate BEFORE TRUNCATE ON audit_bodies
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_reject_record_change();

-- The role that runs Tollgate owns these tables; it gives up the rights to rewrite them.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_log_list, audit_tree, audit_checkpoints FROM PUBLIC, CURRENT_USER;
REVOKE UPDATE, TRUNCATE ON audit_bodies FROM PUBLIC, CURRENT_USER;

-- Row-level security by log. The functions are wrapped in SELECT so each is evaluated once per
-- query (an InitPlan), not once per row: verifying a log reads every row in the system scope.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()))
    WITH CHECK (tenant_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()));
ALTER TABLE audit_bodies ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_bodies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_bodies
    USING (tenant_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()))
    WITH CHECK (tenant_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()));
ALTER TABLE audit_log_list ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log_list FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log_list
    USING (log_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()))
    WITH CHECK (log_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()));
ALTER TABLE audit_tree ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_tree FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_tree
    USING (log_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()))
    WITH CHECK (log_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()));
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_checkpoints
    USING (log_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()))
    WITH CHECK (log_id = (SELECT tollgate_current_tenant()) OR (SELECT tollgate_in_system_scope()));
