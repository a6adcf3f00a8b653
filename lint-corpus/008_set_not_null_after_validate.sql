-- Safe step 3 of 3: PostgreSQL 12+ uses the validated check and skips the scan.
SET lock_timeout = '2s';
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
