-- Each batch of usage records the writer stores is sealed by one ledger entry in its tenant's
-- log (action usage.batch): its body holds the count and the Merkle root of the batch's rows,
-- and each row names that entry's position here. A changed, removed or added row no longer
-- matches its seal (tollgate audit verify).
ALTER TABLE usage_logs ADD COLUMN sealed_by INTEGER CHECK (sealed_by >= 1);
CREATE INDEX idx_usage_logs_sealed_by ON usage_logs (tenant_id, sealed_by);
