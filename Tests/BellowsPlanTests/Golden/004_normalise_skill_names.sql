-- plan 004_normalise_skill_names on public.skills, rendered offline from migrations/

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."skills"
  ADD CONSTRAINT "_bellows_skills_name_check" CHECK (name = lower(btrim(name))) NOT VALID;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_004_normalise_skill_names"() RETURNS trigger
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
  -- change 1: name in place
  NEW."name" := (lower(btrim(NEW."name")))::text;
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
CREATE TRIGGER "~bellows_sync_004_normalise_skill_names" BEFORE INSERT OR UPDATE ON "public"."skills"
  FOR EACH ROW WHEN (current_setting('bellows.backfill', true) IS DISTINCT FROM '004_normalise_skill_names')
  EXECUTE FUNCTION "bellows"."sync_004_normalise_skill_names"();
-- the dual-write trigger fires for every writer [transaction]
ALTER TABLE "public"."skills" ENABLE ALWAYS TRIGGER "~bellows_sync_004_normalise_skill_names";
-- record what up and down use, so that PostgreSQL refuses to drop it while the plan is in flight [transaction]
CREATE VIEW "bellows"."_bellows_plan_004_normalise_skill_names" AS
  SELECT (lower(btrim(name)))::text AS "e1"
  FROM "public"."skills" AS bellows_row WHERE false;
-- say whose view it is [transaction]
COMMENT ON VIEW "bellows"."_bellows_plan_004_normalise_skill_names" IS 'Bellows plan 004_normalise_skill_names is in flight on public.skills: its dual-write trigger calls what this view uses, so PostgreSQL refuses to drop it; contract or rollback of the plan drops the view';
-- build an index without blocking writes [standalone]
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "_bellows_skills_name_key" ON "public"."skills" ("name");

-- ===== backfill =====
-- one keyset batch, repeated (in one transaction with the saved cursor): its last key [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $2::bigint AS bellows_scanned FROM "public"."skills" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint)
    ORDER BY "id" OFFSET $2::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."skills" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."skills" WHERE ("id") > ($1::bigint) AND ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
-- the batch's rows, between the cursor and that key [transaction]
UPDATE "public"."skills" SET
  "name" = (lower(btrim(name)))::text
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
  AND (record_image_ne(ROW("name"), ROW((lower(btrim(name)))::text)));
-- the first batch (no cursor yet) [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $1::bigint AS bellows_scanned FROM "public"."skills" WHERE ("id") <= ($2::bigint)
    ORDER BY "id" OFFSET $1::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."skills" WHERE ("id") <= ($2::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."skills" WHERE ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
UPDATE "public"."skills" SET
  "name" = (lower(btrim(name)))::text
WHERE ("id") <= ($1::bigint)
  AND (record_image_ne(ROW("name"), ROW((lower(btrim(name)))::text)));

-- ===== verify =====
-- prove every row agrees with up (one scan) [transaction]
SELECT count(*) AS total,
       count(*) FILTER (WHERE ("name" COLLATE "C") IS DISTINCT FROM ((lower(btrim(name)))::text COLLATE "C")) AS change_1
FROM "public"."skills";
-- validate without blocking writes [standalone]
ALTER TABLE "public"."skills" VALIDATE CONSTRAINT "_bellows_skills_name_check";
-- check normalised_names_are_unique must return 0 [transaction]
SELECT count(*) FROM (SELECT lower(btrim(name)) FROM skills GROUP BY 1 HAVING count(*) > 1) AS duplicates;
-- check no_empty_skill_names must return 0 [transaction]
SELECT count(*) FROM skills WHERE lower(btrim(name)) = '';

-- ===== contract =====
-- hold the table; the dual-write trigger must be as verify saw it [transaction]
LOCK TABLE "public"."skills" IN ACCESS EXCLUSIVE MODE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_004_normalise_skill_names_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_004_normalise_skill_names" ON "public"."skills";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_004_normalise_skill_names" ON "public"."skills";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_004_normalise_skill_names"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_004_normalise_skill_names";
-- final constraints [transaction]
ALTER TABLE "public"."skills"
  ADD CONSTRAINT "skills_name_key" UNIQUE USING INDEX "_bellows_skills_name_key";
-- final constraint name [transaction]
ALTER TABLE "public"."skills" RENAME CONSTRAINT "_bellows_skills_name_check" TO "skills_name_check";
-- column comment [transaction]
COMMENT ON COLUMN "public"."skills"."name" IS 'Skill name, normalised: trimmed and lower case';

-- ===== rollback =====
-- drop an index without blocking writes [standalone]
DROP INDEX CONCURRENTLY IF EXISTS "public"."_bellows_skills_name_key";
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_004_normalise_skill_names_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_004_normalise_skill_names_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_004_normalise_skill_names" ON "public"."skills";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_004_normalise_skill_names" ON "public"."skills";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_004_normalise_skill_names"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_004_normalise_skill_names";
-- remove the new shape [transaction]
ALTER TABLE "public"."skills"
  DROP CONSTRAINT IF EXISTS "_bellows_skills_name_check";
