-- Safe on PostgreSQL 11+: now() is STABLE, its value is stored once in the catalog.
SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();
