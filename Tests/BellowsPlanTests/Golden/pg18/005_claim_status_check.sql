-- plan 005_claim_status_check on public.skill_claims, rendered offline from migrations/ for PostgreSQL 18+ (NOT NULL: NOT VALID NOT NULL constraints)
-- depends on a replaced column: index skill_claims_status_idx: recreated — rebuilt on status as skill_claims_status_idx
-- depends on a replaced column: NOT NULL of status: carried
-- depends on a replaced column: default 'pending'::claim_status of status: dropped — the plan sets its own

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."skill_claims"
  ADD COLUMN IF NOT EXISTS "_bellows_status" text,
  ADD CONSTRAINT "_bellows_skill_claims_status_not_null" NOT NULL "_bellows_status" NOT VALID,
  ADD CONSTRAINT "_bellows_skill_claims_status_check" CHECK ("_bellows_status" IN ('pending', 'verified', 'rejected')) NOT VALID;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_005_claim_status_check"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, "public", pg_temp
SET timezone FROM CURRENT
SET datestyle FROM CURRENT
SET intervalstyle FROM CURRENT
SET lc_monetary FROM CURRENT
SET lc_numeric FROM CURRENT
SET lc_time FROM CURRENT
SET extra_float_digits FROM CURRENT
SET bytea_output FROM CURRENT
SET default_text_search_config FROM CURRENT
SET xmloption FROM CURRENT
SET xmlbinary FROM CURRENT
SET timezone_abbreviations FROM CURRENT
SET standard_conforming_strings FROM CURRENT
SET array_nulls FROM CURRENT
SET transform_null_equals FROM CURRENT AS $bellows$
DECLARE
  bellows_up record;
BEGIN
  -- change 1: status -> status
  IF TG_OP = 'INSERT' THEN
    IF ROW(NEW."_bellows_status") IS NULL THEN -- written by old code
      NEW."_bellows_status" := (NEW."status"::text)::text;
    ELSE -- written by new code
      IF record_image_ne(ROW(NEW."_bellows_status"), ROW((NEW."status"::text)::text)) THEN
        NEW."status" := (NEW."_bellows_status"::claim_status)::claim_status;
      END IF;
    END IF;
  ELSIF record_image_ne(ROW(NEW."status"), ROW(OLD."status")) AND record_image_eq(ROW(NEW."_bellows_status"), ROW(OLD."_bellows_status")) THEN
    NEW."_bellows_status" := (NEW."status"::text)::text;
  ELSIF record_image_ne(ROW(NEW."_bellows_status"), ROW(OLD."_bellows_status")) THEN
    IF record_image_ne(ROW(NEW."_bellows_status"), ROW((NEW."status"::text)::text)) THEN
      NEW."status" := (NEW."_bellows_status"::claim_status)::claim_status;
    END IF;
  ELSIF ROW(NEW."_bellows_status") IS NULL THEN -- a row the backfill has not reached
    NEW."_bellows_status" := (NEW."status"::text)::text;
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
       count(*) FILTER (WHERE CASE WHEN record_image_ne(ROW("_bellows_status"), ROW((status::text)::text)) THEN NOT (record_image_eq(ROW("status"), ROW(("_bellows_status"::claim_status)::claim_status)) AND "_bellows_status" IS NOT DISTINCT FROM (status::text)::text) ELSE false END) AS change_1
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $bellows$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD."id") IS DISTINCT FROM (NEW."id")) THEN
    INSERT INTO "bellows_archive"."005_claim_status_check_skill_claims" AS bellows_a ("id", "_bellows_gone") VALUES (OLD."id", true)
    ON CONFLICT ("id") DO UPDATE SET "status" = NULL, "_bellows_gone" = true;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "bellows_archive"."005_claim_status_check_skill_claims" AS bellows_a ("id", "status") VALUES (NEW."id", NEW."status")
    ON CONFLICT ("id") DO UPDATE SET "status" = EXCLUDED."status", "_bellows_gone" = false;
  END IF;
  RETURN NULL;
END
$bellows$;
-- every write from now on reaches the archive [archive]
CREATE TRIGGER "_bellows_archive_005_claim_status_check" AFTER INSERT OR UPDATE OR DELETE ON "public"."skill_claims"
  FOR EACH ROW EXECUTE FUNCTION "bellows"."archive_005_claim_status_check"();
-- every write from now on reaches the archive, in every session mode [archive]
ALTER TABLE "public"."skill_claims" ENABLE ALWAYS TRIGGER "_bellows_archive_005_claim_status_check";
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
-- final constraints [transaction]
ALTER TABLE "public"."skill_claims"
  ALTER COLUMN "status" SET DEFAULT 'pending';
-- final constraint name (the validated NOT NULL, no scan) [transaction]
ALTER TABLE "public"."skill_claims" RENAME CONSTRAINT "_bellows_skill_claims_status_not_null" TO "skill_claims_status_not_null";
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
