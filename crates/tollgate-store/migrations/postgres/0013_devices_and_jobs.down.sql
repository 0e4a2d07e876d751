DROP TABLE job_runs;
DROP POLICY device_token_lookup ON devices;
