-- Devices authenticate with a token (tg_dev_...) whose hash is devices.token_hash, before their
-- tenant is known: a transaction that names the hash (tollgate.key_hash, as for API keys) may
-- read that one device's row and nothing else.
CREATE POLICY device_token_lookup ON devices FOR SELECT
    USING (token_hash = current_setting('tollgate.key_hash', true));

-- Scheduled jobs (retention, ...) run once per interval across replicas: a replica runs a job
-- only after claiming its row, which succeeds for one replica per interval.
CREATE TABLE job_runs (
    name        text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    claimed_at  timestamptz NOT NULL,
    claimed_by  text NOT NULL CHECK (length(claimed_by) BETWEEN 1 AND 200),
    finished_at timestamptz,
    outcome     text CHECK (outcome IS NULL OR length(outcome) <= 2000)
);
