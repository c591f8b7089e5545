-- The database side of backroom's permissions on Aurora DSQL: the application role that the
-- functions log in as, which IAM roles may log in as it, and what it may do.
--
-- Run as `admin`, after `backroom migrate`, by infra/dsql-bootstrap.sh (which passes the
-- variables below). Safe to run again: it only does what is missing, and removes mappings of IAM
-- roles the stack no longer has.
--
--   psql -v app_role=backroom_app -v role_arns=ARN1,ARN2,... -f infra/dsql-bootstrap.sql
--
-- psql runs each statement on its own (autocommit): DSQL takes one DDL statement per transaction.
-- DSQL has no DO blocks and CREATE ROLE has no IF NOT EXISTS, so the conditional statements are
-- written by a query and run by psql's \gexec.

\set ON_ERROR_STOP on

-- 1. The application role (the functions connect with DSQL_ROLE=backroom_app).
SELECT format('CREATE ROLE %I WITH LOGIN', :'app_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role')
\gexec

-- 2. Each function role (stack output DatabaseRoleArns) may log in as it. The IAM side is the
--    dsql:DbConnect permission in template.yaml; this is the database side.
SELECT format('AWS IAM GRANT %I TO %L', :'app_role', wanted.arn)
FROM unnest(string_to_array(:'role_arns', ',')) AS wanted(arn)
WHERE wanted.arn <> ''
  AND NOT EXISTS (
    SELECT 1 FROM sys.iam_pg_role_mappings AS m
    WHERE m.pg_role_name = :'app_role' AND m.arn = wanted.arn
  )
\gexec

-- 3. A role the stack no longer has (a function was removed or its role replaced) loses it.
SELECT format('AWS IAM REVOKE %I FROM %L', :'app_role', m.arn)
FROM sys.iam_pg_role_mappings AS m
WHERE m.pg_role_name = :'app_role'
  AND m.arn <> ALL (string_to_array(:'role_arns', ','))
\gexec

-- 4. Data, never schema: the application reads and writes rows; only admin (the migrations)
--    creates or changes tables. Run again after each migration that adds a table: DSQL does not
--    take ALTER DEFAULT PRIVILEGES.
GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
-- The migration ledger is the migrator's alone; the application may only read it.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM :"app_role";
-- Order numbers come from an identity column, whose sequence this covers.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";

-- What is mapped now.
SELECT arn AS "IAM role", pg_role_name AS "logs in as"
FROM sys.iam_pg_role_mappings
WHERE pg_role_name = :'app_role'
ORDER BY arn;
