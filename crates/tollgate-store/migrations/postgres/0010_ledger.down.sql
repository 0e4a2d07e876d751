-- The ledger's rows go with its tables (dropping needs the owner, which the revokes leave).
DROP TABLE audit_checkpoints;
DROP TABLE audit_tree;
DROP TABLE audit_bodies;
DROP TABLE audit_log;
DROP TRIGGER trg_audit_log_v0_closed ON audit_log_v0;
DROP FUNCTION tollgate_reject_ledger_change();
ALTER TABLE audit_log_v0 RENAME TO audit_log;
ALTER TRIGGER trg_audit_log_v0_append_only ON audit_log RENAME TO trg_audit_log_append_only;
ALTER TRIGGER trg_audit_log_v0_no_truncate ON audit_log RENAME TO trg_audit_log_no_truncate;
ALTER INDEX uq_audit_log_v0_seq RENAME TO uq_audit_log_seq;
CREATE INDEX ix_audit_logs_user_id ON audit_log (actor_id);
CREATE INDEX ix_audit_logs_action ON audit_log (action);
CREATE INDEX ix_audit_logs_entity_id ON audit_log (resource_id);
CREATE INDEX ix_audit_logs_timestamp ON audit_log (created_at);
CREATE INDEX ix_audit_logs_user_id_timestamp ON audit_log (actor_id, created_at);
CREATE INDEX ix_audit_logs_entity_type_entity_id ON audit_log (resource_type, resource_id);
CREATE INDEX ix_audit_logs_correlation_id ON audit_log (correlation_id);
CREATE INDEX idx_audit_log_details ON audit_log USING gin (details);
