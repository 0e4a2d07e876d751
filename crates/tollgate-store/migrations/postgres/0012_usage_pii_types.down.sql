ALTER TABLE usage_logs DROP COLUMN pii_types;
