-- Migration: 002_claims_by_status_index
-- Description: Index skill_claims by status for the verifier work queue, built without blocking writes
-- Dependencies: 001_initial_schema

-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block, so this
-- file has no BEGIN/COMMIT. A short lock_timeout keeps it from queueing
-- behind a long transaction (and everything else queueing behind it).
-- If the build is interrupted it leaves an INVALID index: drop it
-- (DROP INDEX CONCURRENTLY skill_claims_status_idx) and run this file again.
SET lock_timeout = '2s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS skill_claims_status_idx
    ON skill_claims (status);
