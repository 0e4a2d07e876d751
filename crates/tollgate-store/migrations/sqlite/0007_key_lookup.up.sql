-- Row-level security is PostgreSQL's (see migrations/postgres/0007_key_lookup.up.sql); this
-- keeps the version numbers of both backends equal.
SELECT 1;
