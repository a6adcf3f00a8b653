-- Migration: 001_initial_schema
-- Description: Roll back 001_initial_schema: drop every Takumi table and the claim_status type, in reverse order of creation
-- Dependencies: none

BEGIN;

DROP TABLE IF EXISTS audit_log;
DROP TABLE IF EXISTS endorsements;
DROP TABLE IF EXISTS skill_claims;
DROP TABLE IF EXISTS skills;
DROP TABLE IF EXISTS verifiers;
DROP TABLE IF EXISTS profiles;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS organisations;
DROP TYPE IF EXISTS claim_status;

COMMIT;
