-- plan 004_normalise_skill_names on public.skills, rendered offline from migrations/

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."skills"
  ADD CONSTRAINT "_bellows_skills_name_check" CHECK (name = lower(btrim(name))) NOT VALID;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_004_normalise_skill_names"() RETURNS trigger
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
  -- change 1: name in place
  NEW."name" := (lower(btrim(NEW."name")))::text;
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
       count(*) FILTER (WHERE record_image_ne(ROW("name"), ROW((lower(btrim(name)))::text))) AS change_1
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
