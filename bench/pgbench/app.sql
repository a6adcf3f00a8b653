-- The application while a backfill runs: read one row, update another through the old column
-- (old code, so every write goes through the dual-write trigger), in one transaction.
\set rid random(1, :n)
\set wid random(1, :n)
BEGIN;
SELECT payload FROM bench WHERE id = :rid;
UPDATE bench SET payload = md5(:wid::text || random()::text) || md5(random()::text) || md5(random()::text) || 'app.' WHERE id = :wid;
END;
