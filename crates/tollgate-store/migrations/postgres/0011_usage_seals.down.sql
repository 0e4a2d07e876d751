DROP INDEX idx_usage_logs_sealed_by;
ALTER TABLE usage_logs DROP COLUMN sealed_by;
