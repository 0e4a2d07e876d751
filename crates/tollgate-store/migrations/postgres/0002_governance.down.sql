DROP TABLE IF EXISTS alert_subscriptions;
DROP TABLE IF EXISTS alerts;
DROP TABLE IF EXISTS policy_assignments;
DROP TABLE IF EXISTS policies;
