DROP TABLE audit_checkpoints;
DROP TABLE audit_tree;
DROP TABLE audit_bodies;
DROP TABLE audit_log_list;
DROP TABLE audit_log;
DROP TRIGGER trg_audit_log_v0_no_update;
DROP TRIGGER trg_audit_log_v0_no_delete;
DROP TRIGGER trg_audit_log_v0_no_insert;
DROP INDEX uq_audit_log_v0_seq;
ALTER TABLE audit_log_v0 RENAME TO audit_log;
CREATE UNIQUE INDEX uq_audit_log_seq
    ON audit_log (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'), seq);
CREATE INDEX ix_audit_logs_user_id ON audit_log (actor_id);
CREATE INDEX ix_audit_logs_action ON audit_log (action);
CREATE INDEX ix_audit_logs_entity_id ON audit_log (resource_id);
CREATE INDEX ix_audit_logs_timestamp ON audit_log (created_at);
CREATE INDEX ix_audit_logs_user_id_timestamp ON audit_log (actor_id, created_at);
CREATE INDEX ix_audit_logs_entity_type_entity_id ON audit_log (resource_type, resource_id);
CREATE INDEX ix_audit_logs_correlation_id ON audit_log (correlation_id);
CREATE TRIGGER trg_audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is refused'); END;
CREATE TRIGGER trg_audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM erasure_context)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is refused (rows leave only through tollgate erase or retention)'); END;
CREATE TRIGGER trg_audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id
             OR (COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000')
                 = COALESCE(NEW.tenant_id, '00000000-0000-0000-0000-000000000000') AND seq = NEW.seq))
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: an entry with this id or position exists'); END;
