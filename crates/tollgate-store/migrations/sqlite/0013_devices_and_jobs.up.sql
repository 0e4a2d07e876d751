-- Scheduled jobs (retention, ...) run once per interval across replicas: a replica runs a job
-- only after claiming its row, which succeeds for one replica per interval. (The device token
-- lookup needs no policy here: SQLite has no row-level security.)
CREATE TABLE job_runs (
    name        TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    claimed_at  TEXT NOT NULL,
    claimed_by  TEXT NOT NULL CHECK (length(claimed_by) BETWEEN 1 AND 200),
    finished_at TEXT,
    outcome     TEXT CHECK (outcome IS NULL OR length(outcome) <= 2000)
);
