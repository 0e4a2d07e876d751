-- The types the PII firewall found in a call's request (e.g. `EMAIL,SECRET`: names only, never
-- values), sorted and comma-separated; NULL when it found none. Sealed with the row when set.
ALTER TABLE usage_logs ADD COLUMN pii_types TEXT CHECK (pii_types IS NULL OR length(pii_types) BETWEEN 1 AND 200);
