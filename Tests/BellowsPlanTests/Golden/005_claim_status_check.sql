-- plan 005_claim_status_check on public.skill_claims, rendered offline from migrations/
-- depends on a replaced column: index skill_claims_status_idx: recreated — rebuilt on status as skill_claims_status_idx
-- depends on a replaced column: NOT NULL of status: carried
-- depends on a replaced column: default 'pending'::claim_status of status: dropped — the plan sets its own

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."skill_claims"
  ADD COLUMN IF NOT EXISTS "_bellows_status" text,
  ADD CONSTRAINT "_bellows_skill_claims_status_not_null" CHECK ("_bellows_status" IS NOT NULL) NOT VALID,
  ADD CONSTRAINT "_bellows_skill_claims_status_check" CHECK ("_bellows_status" IN ('pending', 'verified', 'rejected')) NOT VALID;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_005_claim_status_check"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, "public", pg_temp
SET standard_conforming_strings FROM CURRENT AS $bellows$
DECLARE
  bellows_up record;
  bellows_writer text[];
BEGIN
  -- the settings expand kept (PostgreSQL's built-in values here; expand renders its session's): set for a writer whose session has others,
  -- the writer's put back before returning
  IF current_setting('timezone') <> 'GMT'
     OR current_setting('datestyle') <> 'ISO, MDY'
     OR current_setting('intervalstyle') <> 'postgres'
     OR current_setting('lc_monetary') <> 'C'
     OR current_setting('lc_numeric') <> 'C'
     OR current_setting('lc_time') <> 'C'
     OR current_setting('extra_float_digits') <> '1'
     OR current_setting('bytea_output') <> 'hex'
     OR current_setting('default_text_search_config') <> 'pg_catalog.simple'
     OR current_setting('xmloption') <> 'content'
     OR current_setting('xmlbinary') <> 'base64'
     OR current_setting('timezone_abbreviations') <> 'Default'
     OR current_setting('array_nulls') <> 'on'
     OR current_setting('transform_null_equals') <> 'off'
     OR current_setting('quote_all_identifiers') <> 'off' THEN
    bellows_writer := ARRAY[current_setting('timezone'), current_setting('datestyle'), current_setting('intervalstyle'), current_setting('lc_monetary'), current_setting('lc_numeric'), current_setting('lc_time'), current_setting('extra_float_digits'), current_setting('bytea_output'), current_setting('default_text_search_config'), current_setting('xmloption'), current_setting('xmlbinary'), current_setting('timezone_abbreviations'), current_setting('array_nulls'), current_setting('transform_null_equals'), current_setting('quote_all_identifiers')];
    IF bellows_writer[1] <> 'GMT' THEN PERFORM set_config('timezone', 'GMT', true); END IF;
    IF bellows_writer[2] <> 'ISO, MDY' THEN PERFORM set_config('datestyle', 'ISO, MDY', true); END IF;
    IF bellows_writer[3] <> 'postgres' THEN PERFORM set_config('intervalstyle', 'postgres', true); END IF;
    IF bellows_writer[4] <> 'C' THEN PERFORM set_config('lc_monetary', 'C', true); END IF;
    IF bellows_writer[5] <> 'C' THEN PERFORM set_config('lc_numeric', 'C', true); END IF;
    IF bellows_writer[6] <> 'C' THEN PERFORM set_config('lc_time', 'C', true); END IF;
    IF bellows_writer[7] <> '1' THEN PERFORM set_config('extra_float_digits', '1', true); END IF;
    IF bellows_writer[8] <> 'hex' THEN PERFORM set_config('bytea_output', 'hex', true); END IF;
    IF bellows_writer[9] <> 'pg_catalog.simple' THEN PERFORM set_config('default_text_search_config', 'pg_catalog.simple', true); END IF;
    IF bellows_writer[10] <> 'content' THEN PERFORM set_config('xmloption', 'content', true); END IF;
    IF bellows_writer[11] <> 'base64' THEN PERFORM set_config('xmlbinary', 'base64', true); END IF;
    IF bellows_writer[12] <> 'Default' THEN PERFORM set_config('timezone_abbreviations', 'Default', true); END IF;
    IF bellows_writer[13] <> 'on' THEN PERFORM set_config('array_nulls', 'on', true); END IF;
    IF bellows_writer[14] <> 'off' THEN PERFORM set_config('transform_null_equals', 'off', true); END IF;
    IF bellows_writer[15] <> 'off' THEN PERFORM set_config('quote_all_identifiers', 'off', true); END IF;
  END IF;
  -- change 1: status -> status
  IF TG_OP = 'INSERT' THEN
    IF ROW(NEW."_bellows_status") IS NULL THEN -- written by old code
      NEW."_bellows_status" := (NEW."status"::text)::text;
    ELSE -- written by new code
      IF (NEW."_bellows_status" COLLATE "C") IS DISTINCT FROM ((NEW."status"::text)::text COLLATE "C") THEN
        NEW."status" := (NEW."_bellows_status"::claim_status)::claim_status;
      END IF;
    END IF;
  ELSIF record_image_ne(ROW(NEW."status"), ROW(OLD."status")) AND (NEW."_bellows_status" COLLATE "C") IS NOT DISTINCT FROM (OLD."_bellows_status" COLLATE "C") THEN
    NEW."_bellows_status" := (NEW."status"::text)::text;
  ELSIF (NEW."_bellows_status" COLLATE "C") IS DISTINCT FROM (OLD."_bellows_status" COLLATE "C") THEN
    IF NOT has_column_privilege(TG_RELID, 'status', 'UPDATE') THEN
      RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'permission denied to update column "status" of table skill_claims', DETAIL = 'Until contract of Bellows plan 005_claim_status_check, "status" is written through "status", and the role may not UPDATE "status".';
    END IF;
    IF (NEW."_bellows_status" COLLATE "C") IS DISTINCT FROM ((NEW."status"::text)::text COLLATE "C") THEN
      NEW."status" := (NEW."_bellows_status"::claim_status)::claim_status;
    END IF;
  ELSIF ROW(NEW."_bellows_status") IS NULL THEN -- a row the backfill has not reached
    NEW."_bellows_status" := (NEW."status"::text)::text;
  END IF;
  IF bellows_writer IS NOT NULL THEN
    IF bellows_writer[1] <> 'GMT' THEN PERFORM set_config('timezone', bellows_writer[1], true); END IF;
    IF bellows_writer[2] <> 'ISO, MDY' THEN PERFORM set_config('datestyle', bellows_writer[2], true); END IF;
    IF bellows_writer[3] <> 'postgres' THEN PERFORM set_config('intervalstyle', bellows_writer[3], true); END IF;
    IF bellows_writer[4] <> 'C' THEN PERFORM set_config('lc_monetary', bellows_writer[4], true); END IF;
    IF bellows_writer[5] <> 'C' THEN PERFORM set_config('lc_numeric', bellows_writer[5], true); END IF;
    IF bellows_writer[6] <> 'C' THEN PERFORM set_config('lc_time', bellows_writer[6], true); END IF;
    IF bellows_writer[7] <> '1' THEN PERFORM set_config('extra_float_digits', bellows_writer[7], true); END IF;
    IF bellows_writer[8] <> 'hex' THEN PERFORM set_config('bytea_output', bellows_writer[8], true); END IF;
    IF bellows_writer[9] <> 'pg_catalog.simple' THEN PERFORM set_config('default_text_search_config', bellows_writer[9], true); END IF;
    IF bellows_writer[10] <> 'content' THEN PERFORM set_config('xmloption', bellows_writer[10], true); END IF;
    IF bellows_writer[11] <> 'base64' THEN PERFORM set_config('xmlbinary', bellows_writer[11], true); END IF;
    IF bellows_writer[12] <> 'Default' THEN PERFORM set_config('timezone_abbreviations', bellows_writer[12], true); END IF;
    IF bellows_writer[13] <> 'on' THEN PERFORM set_config('array_nulls', bellows_writer[13], true); END IF;
    IF bellows_writer[14] <> 'off' THEN PERFORM set_config('transform_null_equals', bellows_writer[14], true); END IF;
    IF bellows_writer[15] <> 'off' THEN PERFORM set_config('quote_all_identifiers', bellows_writer[15], true); END IF;
  END IF;
  RETURN NEW;
END
$bellows$;
-- the dual-write trigger [transaction]
CREATE TRIGGER "~bellows_sync_005_claim_status_check" BEFORE INSERT OR UPDATE ON "public"."skill_claims"
  FOR EACH ROW WHEN (current_setting('bellows.backfill', true) IS DISTINCT FROM '005_claim_status_check')
  EXECUTE FUNCTION "bellows"."sync_005_claim_status_check"();
-- the dual-write trigger fires for every writer [transaction]
ALTER TABLE "public"."skill_claims" ENABLE ALWAYS TRIGGER "~bellows_sync_005_claim_status_check";
-- record what up and down use, so that PostgreSQL refuses to drop it while the plan is in flight [transaction]
CREATE VIEW "bellows"."_bellows_plan_005_claim_status_check" AS
  SELECT (status::text)::text AS "e1",
         ("_bellows_status"::claim_status)::claim_status AS "e2"
  FROM "public"."skill_claims" AS bellows_row WHERE false;
-- say whose view it is [transaction]
COMMENT ON VIEW "bellows"."_bellows_plan_005_claim_status_check" IS 'Bellows plan 005_claim_status_check is in flight on public.skill_claims: its dual-write trigger calls what this view uses, so PostgreSQL refuses to drop it; contract or rollback of the plan drops the view';
-- build an index without blocking writes [standalone]
CREATE INDEX CONCURRENTLY IF NOT EXISTS "_bellows_skill_claims_status_idx" ON "public"."skill_claims" ("_bellows_status");

-- ===== backfill =====
-- one keyset batch, repeated (in one transaction with the saved cursor): its last key [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $2::bigint AS bellows_scanned FROM "public"."skill_claims" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint)
    ORDER BY "id" OFFSET $2::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."skill_claims" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."skill_claims" WHERE ("id") > ($1::bigint) AND ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
-- the batch's rows, between the cursor and that key [transaction]
UPDATE "public"."skill_claims" SET
  "_bellows_status" = (status::text)::text
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
  AND ((ROW("_bellows_status") IS NULL AND NOT ROW((status::text)::text) IS NULL));
-- the first batch (no cursor yet) [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $1::bigint AS bellows_scanned FROM "public"."skill_claims" WHERE ("id") <= ($2::bigint)
    ORDER BY "id" OFFSET $1::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."skill_claims" WHERE ("id") <= ($2::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."skill_claims" WHERE ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
UPDATE "public"."skill_claims" SET
  "_bellows_status" = (status::text)::text
WHERE ("id") <= ($1::bigint)
  AND ((ROW("_bellows_status") IS NULL AND NOT ROW((status::text)::text) IS NULL));

-- ===== verify =====
-- prove every row agrees with up (one scan) [transaction]
SELECT count(*) AS total,
       count(*) FILTER (WHERE CASE WHEN ("_bellows_status" COLLATE "C") IS DISTINCT FROM ((status::text)::text COLLATE "C") THEN NOT (record_image_eq(ROW("status"), ROW(("_bellows_status"::claim_status)::claim_status)) AND "_bellows_status" IS NOT DISTINCT FROM (status::text)::text) ELSE false END) AS change_1
FROM "public"."skill_claims";
-- validate without blocking writes [standalone]
ALTER TABLE "public"."skill_claims" VALIDATE CONSTRAINT "_bellows_skill_claims_status_not_null";
-- validate without blocking writes [standalone]
ALTER TABLE "public"."skill_claims" VALIDATE CONSTRAINT "_bellows_skill_claims_status_check";
-- check status_values_known must return 0 [transaction]
SELECT count(*) FROM skill_claims WHERE status::text NOT IN ('pending', 'verified', 'rejected');

-- ===== contract =====
-- the archive's schema [archive]
CREATE SCHEMA IF NOT EXISTS "bellows_archive";
-- an unrecorded archive a contract that never committed left [archive]
DROP TABLE IF EXISTS "bellows_archive"."005_claim_status_check_skill_claims";
-- the archive of the columns contract drops, keyed by the table's key [archive]
CREATE TABLE "bellows_archive"."005_claim_status_check_skill_claims" (
  "id" bigint NOT NULL,
  "status" claim_status,
  "_bellows_gone" boolean NOT NULL DEFAULT false,
  PRIMARY KEY ("id")
);
-- the rows deleted while the archive fills, found under contract's lock without a scan [archive]
CREATE INDEX ON "bellows_archive"."005_claim_status_check_skill_claims" ("id") WHERE "_bellows_gone";
-- every write from now on reaches the archive (as the table's owner: writers need no privilege on it) [archive]
CREATE OR REPLACE FUNCTION "bellows"."archive_005_claim_status_check"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, "public", pg_temp SET row_security = off AS $bellows$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD."id") IS DISTINCT FROM (NEW."id")) THEN
    INSERT INTO "bellows_archive"."005_claim_status_check_skill_claims" AS bellows_a ("id", "status", "_bellows_gone")
        SELECT OLD."id", bellows_r."status", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."status", true AS bellows_found
            FROM "public"."skill_claims" AS bellows_t WHERE bellows_t."id" = OLD."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "status" = EXCLUDED."status", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "bellows_archive"."005_claim_status_check_skill_claims" AS bellows_a ("id", "status", "_bellows_gone")
        SELECT NEW."id", bellows_r."status", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."status", true AS bellows_found
            FROM "public"."skill_claims" AS bellows_t WHERE bellows_t."id" = NEW."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "status" = EXCLUDED."status", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  RETURN NULL;
END
$bellows$;
-- the trigger a contract killed during its archive left, when there is one (its function is replaced) [archive]
DROP TRIGGER IF EXISTS "!_bellows_archive_005_claim_status_check" ON "public"."skill_claims";
-- the same, under the name an earlier Bellows gave it [archive]
DROP TRIGGER IF EXISTS "_bellows_archive_005_claim_status_check" ON "public"."skill_claims";
-- every write from now on reaches the archive, before the table's own AFTER triggers [archive]
CREATE TRIGGER "!_bellows_archive_005_claim_status_check" AFTER INSERT OR UPDATE OR DELETE ON "public"."skill_claims"
  FOR EACH ROW EXECUTE FUNCTION "bellows"."archive_005_claim_status_check"();
-- every write from now on reaches the archive, in every session mode [archive]
ALTER TABLE "public"."skill_claims" ENABLE ALWAYS TRIGGER "!_bellows_archive_005_claim_status_check";
-- each archive batch [archive]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $2::bigint AS bellows_scanned FROM "public"."skill_claims" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint)
    ORDER BY "id" OFFSET $2::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."skill_claims" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."skill_claims" WHERE ("id") > ($1::bigint) AND ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
INSERT INTO "bellows_archive"."005_claim_status_check_skill_claims" ("id", "status")
SELECT "id", "status" FROM "public"."skill_claims"
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
ON CONFLICT ("id") DO NOTHING;
-- the archive is complete: no write can happen under this lock [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "!_bellows_archive_005_claim_status_check" ON "public"."skill_claims";
-- the same, under the name an earlier Bellows gave it [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "_bellows_archive_005_claim_status_check" ON "public"."skill_claims";
-- the archive is complete [archive, in contract's transaction]
DROP FUNCTION IF EXISTS "bellows"."archive_005_claim_status_check"();
-- rows deleted while the archive filled (partial index, no scan) [archive, in contract's transaction]
DELETE FROM "bellows_archive"."005_claim_status_check_skill_claims" WHERE "_bellows_gone";
-- the tombstones' column (catalog only) [archive, in contract's transaction]
ALTER TABLE "bellows_archive"."005_claim_status_check_skill_claims" DROP COLUMN "_bellows_gone";
-- hold the table; the dual-write trigger must be as verify saw it [transaction]
LOCK TABLE "public"."skill_claims" IN ACCESS EXCLUSIVE MODE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_005_claim_status_check_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_005_claim_status_check" ON "public"."skill_claims";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_005_claim_status_check" ON "public"."skill_claims";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_005_claim_status_check"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_005_claim_status_check";
-- remove the old shape [transaction]
ALTER TABLE "public"."skill_claims"
  DROP COLUMN "status";
-- move the new column into place [transaction]
ALTER TABLE "public"."skill_claims" RENAME COLUMN "_bellows_status" TO "status";
-- NOT NULL, proved by the validated check (no scan) [transaction]
ALTER TABLE "public"."skill_claims"
  ALTER COLUMN "status" SET NOT NULL;
-- final constraints [transaction]
ALTER TABLE "public"."skill_claims"
  DROP CONSTRAINT "_bellows_skill_claims_status_not_null",
  ALTER COLUMN "status" SET DEFAULT 'pending';
-- final constraint name [transaction]
ALTER TABLE "public"."skill_claims" RENAME CONSTRAINT "_bellows_skill_claims_status_check" TO "skill_claims_status_check";
-- final index name [transaction]
ALTER INDEX "public"."_bellows_skill_claims_status_idx" RENAME TO "skill_claims_status_idx";
-- column comment [transaction]
COMMENT ON COLUMN "public"."skill_claims"."status" IS 'Claim lifecycle: pending, verified or rejected';

-- ===== rollback =====
-- drop an index without blocking writes [standalone]
DROP INDEX CONCURRENTLY IF EXISTS "public"."_bellows_skill_claims_status_idx";
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_005_claim_status_check_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_005_claim_status_check_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_005_claim_status_check" ON "public"."skill_claims";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_005_claim_status_check" ON "public"."skill_claims";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_005_claim_status_check"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_005_claim_status_check";
-- remove the new shape [transaction]
ALTER TABLE "public"."skill_claims"
  DROP CONSTRAINT IF EXISTS "_bellows_skill_claims_status_not_null",
  DROP CONSTRAINT IF EXISTS "_bellows_skill_claims_status_check",
  DROP COLUMN IF EXISTS "_bellows_status";
