-- Row-level security is PostgreSQL's (see migrations/postgres/0006_row_security.up.sql).
-- A SQLite database is one file on one node: the file is the boundary. This migration keeps
-- the version numbers of both backends equal.
SELECT 1;
