-- Migration: 002_claims_by_status_index
-- Description: Roll back 002_claims_by_status_index: drop the status index without blocking writes
-- Dependencies: 001_initial_schema

-- DROP INDEX CONCURRENTLY cannot run inside a transaction block either.
SET lock_timeout = '2s';

DROP INDEX CONCURRENTLY IF EXISTS skill_claims_status_idx;
