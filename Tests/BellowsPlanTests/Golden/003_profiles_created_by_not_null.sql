-- plan 003_profiles_created_by_not_null on public.profiles, rendered offline from migrations/

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."profiles"
  ADD CONSTRAINT "_bellows_profiles_created_by_not_null" CHECK ("created_by" IS NOT NULL) NOT VALID;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_003_profiles_created_by_not_null"() RETURNS trigger
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
  -- change 1: created_by in place
  NEW."created_by" := (coalesce(NEW."created_by", NEW."user_id"))::bigint;
  RETURN NEW;
END
$bellows$;
-- the dual-write trigger [transaction]
CREATE TRIGGER "~bellows_sync_003_profiles_created_by_not_null" BEFORE INSERT OR UPDATE ON "public"."profiles"
  FOR EACH ROW WHEN (current_setting('bellows.backfill', true) IS DISTINCT FROM '003_profiles_created_by_not_null')
  EXECUTE FUNCTION "bellows"."sync_003_profiles_created_by_not_null"();
-- the dual-write trigger fires for every writer [transaction]
ALTER TABLE "public"."profiles" ENABLE ALWAYS TRIGGER "~bellows_sync_003_profiles_created_by_not_null";
-- record what up and down use, so that PostgreSQL refuses to drop it while the plan is in flight [transaction]
CREATE VIEW "bellows"."_bellows_plan_003_profiles_created_by_not_null" AS
  SELECT (coalesce(created_by, user_id))::bigint AS "e1"
  FROM "public"."profiles" AS bellows_row WHERE false;
-- say whose view it is [transaction]
COMMENT ON VIEW "bellows"."_bellows_plan_003_profiles_created_by_not_null" IS 'Bellows plan 003_profiles_created_by_not_null is in flight on public.profiles: its dual-write trigger calls what this view uses, so PostgreSQL refuses to drop it; contract or rollback of the plan drops the view';

-- ===== backfill =====
-- one keyset batch, repeated (in one transaction with the saved cursor): its last key [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $2::bigint AS bellows_scanned FROM "public"."profiles" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint)
    ORDER BY "id" OFFSET $2::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."profiles" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."profiles" WHERE ("id") > ($1::bigint) AND ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
-- the batch's rows, between the cursor and that key [transaction]
UPDATE "public"."profiles" SET
  "created_by" = (coalesce(created_by, user_id))::bigint
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
  AND (record_image_ne(ROW("created_by"), ROW((coalesce(created_by, user_id))::bigint)));
-- the first batch (no cursor yet) [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $1::bigint AS bellows_scanned FROM "public"."profiles" WHERE ("id") <= ($2::bigint)
    ORDER BY "id" OFFSET $1::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."profiles" WHERE ("id") <= ($2::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."profiles" WHERE ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
UPDATE "public"."profiles" SET
  "created_by" = (coalesce(created_by, user_id))::bigint
WHERE ("id") <= ($1::bigint)
  AND (record_image_ne(ROW("created_by"), ROW((coalesce(created_by, user_id))::bigint)));

-- ===== verify =====
-- prove every row agrees with up (one scan) [transaction]
SELECT count(*) AS total,
       count(*) FILTER (WHERE record_image_ne(ROW("created_by"), ROW((coalesce(created_by, user_id))::bigint))) AS change_1
FROM "public"."profiles";
-- validate without blocking writes [standalone]
ALTER TABLE "public"."profiles" VALIDATE CONSTRAINT "_bellows_profiles_created_by_not_null";
-- check no_profile_without_creator must return 0 [transaction]
SELECT count(*) FROM profiles WHERE coalesce(created_by, user_id) IS NULL;
-- check every_creator_is_a_user must return 0 [transaction]
SELECT count(*) FROM profiles p LEFT JOIN users u ON u.id = coalesce(p.created_by, p.user_id) WHERE u.id IS NULL;

-- ===== contract =====
-- hold the table; the dual-write trigger must be as verify saw it [transaction]
LOCK TABLE "public"."profiles" IN ACCESS EXCLUSIVE MODE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_003_profiles_created_by_not_null_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_003_profiles_created_by_not_null" ON "public"."profiles";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_003_profiles_created_by_not_null" ON "public"."profiles";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_003_profiles_created_by_not_null"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_003_profiles_created_by_not_null";
-- NOT NULL, proved by the validated check (no scan) [transaction]
ALTER TABLE "public"."profiles"
  ALTER COLUMN "created_by" SET NOT NULL;
-- final constraints [transaction]
ALTER TABLE "public"."profiles"
  DROP CONSTRAINT "_bellows_profiles_created_by_not_null";
-- column comment [transaction]
COMMENT ON COLUMN "public"."profiles"."created_by" IS 'Account that created the profile: the user themself or an admin acting for them';

-- ===== rollback =====
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_003_profiles_created_by_not_null_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_003_profiles_created_by_not_null_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_003_profiles_created_by_not_null" ON "public"."profiles";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_003_profiles_created_by_not_null" ON "public"."profiles";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_003_profiles_created_by_not_null"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_003_profiles_created_by_not_null";
-- remove the new shape [transaction]
ALTER TABLE "public"."profiles"
  DROP CONSTRAINT IF EXISTS "_bellows_profiles_created_by_not_null";
