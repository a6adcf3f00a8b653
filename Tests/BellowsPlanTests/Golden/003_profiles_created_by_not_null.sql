-- plan 003_profiles_created_by_not_null on public.profiles, rendered offline from migrations/

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."profiles"
  ADD CONSTRAINT "_bellows_profiles_created_by_not_null" CHECK ("created_by" IS NOT NULL) NOT VALID;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_003_profiles_created_by_not_null"() RETURNS trigger
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
  -- change 1: created_by in place
  NEW."created_by" := (coalesce(NEW."created_by", NEW."user_id"))::bigint;
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
       count(*) FILTER (WHERE "created_by" IS DISTINCT FROM (coalesce(created_by, user_id))::bigint) AS change_1
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
