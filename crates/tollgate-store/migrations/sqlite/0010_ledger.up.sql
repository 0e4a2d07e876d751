-- The audit ledger (issue 5, docs/audit.md). Entries written before this migration keep their
-- per-row checksums in audit_log_v0, read-only; new entries are ledger entries: a hash chain and
-- an RFC 9162 Merkle tree per log (a tenant's, or the system log when tenant_id is NULL), with
-- the tree's complete-subtree hashes stored write-once in audit_tree and signed checkpoints in
-- audit_checkpoints. Bodies (before/after values, details) sit apart in audit_bodies, so that
-- erasure and retention can delete a body without breaking a proof. Nothing in the ledger is
-- ever updated or deleted, not even by erasure: the triggers refuse it.

DROP TRIGGER trg_audit_log_no_update;
DROP TRIGGER trg_audit_log_no_delete;
DROP TRIGGER trg_audit_log_no_replace;
DROP INDEX uq_audit_log_seq;
DROP INDEX ix_audit_logs_user_id;
DROP INDEX ix_audit_logs_action;
DROP INDEX ix_audit_logs_entity_id;
DROP INDEX ix_audit_logs_timestamp;
DROP INDEX ix_audit_logs_user_id_timestamp;
DROP INDEX ix_audit_logs_entity_type_entity_id;
DROP INDEX ix_audit_logs_correlation_id;
ALTER TABLE audit_log RENAME TO audit_log_v0;
CREATE UNIQUE INDEX uq_audit_log_v0_seq
    ON audit_log_v0 (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'), seq);
CREATE TRIGGER trg_audit_log_v0_no_update BEFORE UPDATE ON audit_log_v0
BEGIN SELECT RAISE(ABORT, 'audit_log_v0 is append-only: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_log_v0_no_delete BEFORE DELETE ON audit_log_v0
WHEN NOT EXISTS (SELECT 1 FROM erasure_context)
BEGIN SELECT RAISE(ABORT, 'audit_log_v0 is append-only: DELETE is refused (rows leave only through tollgate erase)'); END;
CREATE TRIGGER trg_audit_log_v0_no_insert BEFORE INSERT ON audit_log_v0
BEGIN SELECT RAISE(ABORT, 'audit_log_v0 holds entries from before the ledger: nothing is added to it'); END;

-- The hashed part of each entry, in the columns of the canonical encoding (tollgate-ledger).
-- No foreign key to tenants: a tenant's log outlives the tenant (erasure removes its bodies).
CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT,
    -- The log as one plain column (PostgreSQL needs it under row-level security; the same
    -- queries run here).
    log_id        TEXT NOT NULL GENERATED ALWAYS AS (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000')) STORED,
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    version       INTEGER NOT NULL CHECK (version = 1),
    created_at    TEXT NOT NULL,
    actor_type    TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'device', 'system')),
    actor_id      TEXT,
    action        TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 4096),
    resource_type TEXT NOT NULL CHECK (length(resource_type) BETWEEN 1 AND 4096),
    resource_id   TEXT CHECK (length(resource_id) <= 4096),
    outcome       TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    request_id    TEXT,
    body_hash     BLOB CHECK (length(body_hash) = 32),
    checksum      TEXT NOT NULL CHECK (length(checksum) = 64)
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
    log_id     TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- What an entry's body_hash covers; deletable by erasure and retention only. No foreign key to
-- audit_log: checking one would lock the entry, which needs the UPDATE right the owner gave up.
CREATE TABLE audit_bodies (
    entry_id   TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    before     TEXT CHECK (before IS NULL OR json_valid(before)),
    after      TEXT CHECK (after IS NULL OR json_valid(after)),
    details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details) AND json_type(details) = 'object'),
    ip_address TEXT,
    user_agent TEXT
);
CREATE INDEX ix_audit_bodies_tenant_id ON audit_bodies (tenant_id);

-- Hashes of complete subtrees: level 0 holds the leaves, (level k, idx i) covers entries
-- i*2^k+1 .. (i+1)*2^k. Written once when the subtree fills, never changed.
CREATE TABLE audit_tree (
    log_id TEXT NOT NULL,
    level  INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx    INTEGER NOT NULL CHECK (idx >= 0),
    hash   BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (log_id, level, idx)
) WITHOUT ROWID;

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note), one per log and size.
CREATE TABLE audit_checkpoints (
    log_id     TEXT NOT NULL,
    tree_size  INTEGER NOT NULL CHECK (tree_size >= 0),
    root       BLOB NOT NULL CHECK (length(root) = 32),
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (log_id, tree_size)
);
CREATE INDEX ix_audit_checkpoints_created ON audit_checkpoints (created_at);

CREATE TRIGGER trg_audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is part of the audit ledger: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is part of the audit ledger: DELETE is refused'); END;
CREATE TRIGGER trg_audit_log_list_no_update BEFORE UPDATE ON audit_log_list
BEGIN SELECT RAISE(ABORT, 'audit_log_list is part of the audit ledger: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_log_list_no_delete BEFORE DELETE ON audit_log_list
BEGIN SELECT RAISE(ABORT, 'audit_log_list is part of the audit ledger: DELETE is refused'); END;
CREATE TRIGGER trg_audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN SELECT RAISE(ABORT, 'audit_tree is part of the audit ledger: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN SELECT RAISE(ABORT, 'audit_tree is part of the audit ledger: DELETE is refused'); END;
CREATE TRIGGER trg_audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is part of the audit ledger: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is part of the audit ledger: DELETE is refused'); END;
CREATE TRIGGER trg_audit_bodies_no_update BEFORE UPDATE ON audit_bodies
BEGIN SELECT RAISE(ABORT, 'audit_bodies is append-only: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_bodies_no_delete BEFORE DELETE ON audit_bodies
WHEN NOT EXISTS (SELECT 1 FROM erasure_context)
BEGIN SELECT RAISE(ABORT, 'audit_bodies is append-only: DELETE is refused (bodies leave only through tollgate erase or retention)'); END;

-- INSERT OR REPLACE deletes the row it replaces without firing DELETE triggers: refuse it.
CREATE TRIGGER trg_audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
  OR EXISTS (SELECT 1 FROM audit_log
             WHERE log_id = COALESCE(NEW.tenant_id, '00000000-0000-0000-0000-000000000000') AND seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'audit_log is part of the audit ledger: an entry with this id or position exists'); END;
CREATE TRIGGER trg_audit_log_list_no_replace BEFORE INSERT ON audit_log_list
WHEN EXISTS (SELECT 1 FROM audit_log_list WHERE log_id = NEW.log_id)
BEGIN SELECT RAISE(ABORT, 'audit_log_list is part of the audit ledger: this log is listed'); END;
CREATE TRIGGER trg_audit_tree_no_replace BEFORE INSERT ON audit_tree
WHEN EXISTS (SELECT 1 FROM audit_tree WHERE log_id = NEW.log_id AND level = NEW.level AND idx = NEW.idx)
BEGIN SELECT RAISE(ABORT, 'audit_tree is part of the audit ledger: this subtree hash is already written'); END;
CREATE TRIGGER trg_audit_checkpoints_no_replace BEFORE INSERT ON audit_checkpoints
WHEN EXISTS (SELECT 1 FROM audit_checkpoints WHERE log_id = NEW.log_id AND tree_size = NEW.tree_size)
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is part of the audit ledger: a checkpoint of this size exists'); END;
CREATE TRIGGER trg_audit_bodies_no_replace BEFORE INSERT ON audit_bodies
WHEN EXISTS (SELECT 1 FROM audit_bodies WHERE entry_id = NEW.entry_id)
BEGIN SELECT RAISE(ABORT, 'audit_bodies is append-only: this entry has a body'); END;
