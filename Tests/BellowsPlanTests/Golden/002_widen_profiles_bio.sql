-- plan 002_widen_profiles_bio on public.profiles, rendered offline from migrations/

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."profiles"
  ADD COLUMN IF NOT EXISTS "_bellows_bio" varchar(2000);
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_002_widen_profiles_bio"() RETURNS trigger
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
  -- change 1: bio -> bio
  IF TG_OP = 'INSERT' THEN
    IF ROW(NEW."_bellows_bio") IS NULL THEN -- written by old code
      NEW."_bellows_bio" := (NEW."bio"::varchar(2000))::varchar(2000);
    ELSE -- written by new code
      IF (NEW."_bellows_bio" COLLATE "C") IS DISTINCT FROM ((NEW."bio"::varchar(2000))::varchar(2000) COLLATE "C") THEN
        NEW."bio" := (NEW."_bellows_bio"::varchar(500))::character varying(500);
      END IF;
    END IF;
  ELSIF (NEW."bio" COLLATE "C") IS DISTINCT FROM (OLD."bio" COLLATE "C") AND (NEW."_bellows_bio" COLLATE "C") IS NOT DISTINCT FROM (OLD."_bellows_bio" COLLATE "C") THEN
    NEW."_bellows_bio" := (NEW."bio"::varchar(2000))::varchar(2000);
  ELSIF (NEW."_bellows_bio" COLLATE "C") IS DISTINCT FROM (OLD."_bellows_bio" COLLATE "C") THEN
    IF NOT has_column_privilege(TG_RELID, 'bio', 'UPDATE') THEN
      RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'permission denied to update column "bio" of table profiles', DETAIL = 'Until contract of Bellows plan 002_widen_profiles_bio, "bio" is written through "bio", and the role may not UPDATE "bio".';
    END IF;
    IF (NEW."_bellows_bio" COLLATE "C") IS DISTINCT FROM ((NEW."bio"::varchar(2000))::varchar(2000) COLLATE "C") THEN
      NEW."bio" := (NEW."_bellows_bio"::varchar(500))::character varying(500);
    END IF;
  ELSIF ROW(NEW."_bellows_bio") IS NULL THEN -- a row the backfill has not reached
    NEW."_bellows_bio" := (NEW."bio"::varchar(2000))::varchar(2000);
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
CREATE TRIGGER "~bellows_sync_002_widen_profiles_bio" BEFORE INSERT OR UPDATE ON "public"."profiles"
  FOR EACH ROW WHEN (current_setting('bellows.backfill', true) IS DISTINCT FROM '002_widen_profiles_bio')
  EXECUTE FUNCTION "bellows"."sync_002_widen_profiles_bio"();
-- the dual-write trigger fires for every writer [transaction]
ALTER TABLE "public"."profiles" ENABLE ALWAYS TRIGGER "~bellows_sync_002_widen_profiles_bio";
-- record what up and down use, so that PostgreSQL refuses to drop it while the plan is in flight [transaction]
CREATE VIEW "bellows"."_bellows_plan_002_widen_profiles_bio" AS
  SELECT (bio::varchar(2000))::varchar(2000) AS "e1",
         ("_bellows_bio"::varchar(500))::character varying(500) AS "e2"
  FROM "public"."profiles" AS bellows_row WHERE false;
-- say whose view it is [transaction]
COMMENT ON VIEW "bellows"."_bellows_plan_002_widen_profiles_bio" IS 'Bellows plan 002_widen_profiles_bio is in flight on public.profiles: its dual-write trigger calls what this view uses, so PostgreSQL refuses to drop it; contract or rollback of the plan drops the view';

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
  "_bellows_bio" = (bio::varchar(2000))::varchar(2000)
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
  AND ((ROW("_bellows_bio") IS NULL AND NOT ROW((bio::varchar(2000))::varchar(2000)) IS NULL));
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
  "_bellows_bio" = (bio::varchar(2000))::varchar(2000)
WHERE ("id") <= ($1::bigint)
  AND ((ROW("_bellows_bio") IS NULL AND NOT ROW((bio::varchar(2000))::varchar(2000)) IS NULL));

-- ===== verify =====
-- prove every row agrees with up (one scan) [transaction]
SELECT count(*) AS total,
       count(*) FILTER (WHERE CASE WHEN ("_bellows_bio" COLLATE "C") IS DISTINCT FROM ((bio::varchar(2000))::varchar(2000) COLLATE "C") THEN NOT (record_image_eq(ROW("bio"), ROW(("_bellows_bio"::varchar(500))::character varying(500))) AND "_bellows_bio" IS NOT DISTINCT FROM (bio::varchar(2000))::varchar(2000)) ELSE false END) AS change_1
FROM "public"."profiles";
-- check bio_within_new_limit must return 0 [transaction]
SELECT count(*) FROM profiles WHERE char_length(bio) > 2000;

-- ===== contract =====
-- the archive's schema [archive]
CREATE SCHEMA IF NOT EXISTS "bellows_archive";
-- an unrecorded archive a contract that never committed left [archive]
DROP TABLE IF EXISTS "bellows_archive"."002_widen_profiles_bio_profiles";
-- the archive of the columns contract drops, keyed by the table's key [archive]
CREATE TABLE "bellows_archive"."002_widen_profiles_bio_profiles" (
  "id" bigint NOT NULL,
  "bio" character varying(500),
  "_bellows_gone" boolean NOT NULL DEFAULT false,
  PRIMARY KEY ("id")
);
-- the rows deleted while the archive fills, found under contract's lock without a scan [archive]
CREATE INDEX ON "bellows_archive"."002_widen_profiles_bio_profiles" ("id") WHERE "_bellows_gone";
-- every write from now on reaches the archive (as the table's owner: writers need no privilege on it) [archive]
CREATE OR REPLACE FUNCTION "bellows"."archive_002_widen_profiles_bio"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, "public", pg_temp SET row_security = off AS $bellows$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD."id") IS DISTINCT FROM (NEW."id")) THEN
    INSERT INTO "bellows_archive"."002_widen_profiles_bio_profiles" AS bellows_a ("id", "bio", "_bellows_gone")
        SELECT OLD."id", bellows_r."bio", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."bio", true AS bellows_found
            FROM "public"."profiles" AS bellows_t WHERE bellows_t."id" = OLD."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "bio" = EXCLUDED."bio", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "bellows_archive"."002_widen_profiles_bio_profiles" AS bellows_a ("id", "bio", "_bellows_gone")
        SELECT NEW."id", bellows_r."bio", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."bio", true AS bellows_found
            FROM "public"."profiles" AS bellows_t WHERE bellows_t."id" = NEW."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "bio" = EXCLUDED."bio", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  RETURN NULL;
END
$bellows$;
-- the trigger a contract killed during its archive left, when there is one (its function is replaced) [archive]
DROP TRIGGER IF EXISTS "!_bellows_archive_002_widen_profiles_bio" ON "public"."profiles";
-- the same, under the name an earlier Bellows gave it [archive]
DROP TRIGGER IF EXISTS "_bellows_archive_002_widen_profiles_bio" ON "public"."profiles";
-- every write from now on reaches the archive, before the table's own AFTER triggers [archive]
CREATE TRIGGER "!_bellows_archive_002_widen_profiles_bio" AFTER INSERT OR UPDATE OR DELETE ON "public"."profiles"
  FOR EACH ROW EXECUTE FUNCTION "bellows"."archive_002_widen_profiles_bio"();
-- every write from now on reaches the archive, in every session mode [archive]
ALTER TABLE "public"."profiles" ENABLE ALWAYS TRIGGER "!_bellows_archive_002_widen_profiles_bio";
-- each archive batch [archive]
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
INSERT INTO "bellows_archive"."002_widen_profiles_bio_profiles" ("id", "bio")
SELECT "id", "bio" FROM "public"."profiles"
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
ON CONFLICT ("id") DO NOTHING;
-- the archive is complete: no write can happen under this lock [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "!_bellows_archive_002_widen_profiles_bio" ON "public"."profiles";
-- the same, under the name an earlier Bellows gave it [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "_bellows_archive_002_widen_profiles_bio" ON "public"."profiles";
-- the archive is complete [archive, in contract's transaction]
DROP FUNCTION IF EXISTS "bellows"."archive_002_widen_profiles_bio"();
-- rows deleted while the archive filled (partial index, no scan) [archive, in contract's transaction]
DELETE FROM "bellows_archive"."002_widen_profiles_bio_profiles" WHERE "_bellows_gone";
-- the tombstones' column (catalog only) [archive, in contract's transaction]
ALTER TABLE "bellows_archive"."002_widen_profiles_bio_profiles" DROP COLUMN "_bellows_gone";
-- hold the table; the dual-write trigger must be as verify saw it [transaction]
LOCK TABLE "public"."profiles" IN ACCESS EXCLUSIVE MODE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_002_widen_profiles_bio_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_002_widen_profiles_bio" ON "public"."profiles";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_002_widen_profiles_bio" ON "public"."profiles";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_002_widen_profiles_bio"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_002_widen_profiles_bio";
-- remove the old shape [transaction]
ALTER TABLE "public"."profiles"
  DROP COLUMN "bio";
-- move the new column into place [transaction]
ALTER TABLE "public"."profiles" RENAME COLUMN "_bellows_bio" TO "bio";
-- column comment [transaction]
COMMENT ON COLUMN "public"."profiles"."bio" IS 'Free-text introduction shown on the public profile, up to 2000 characters';

-- ===== rollback =====
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_002_widen_profiles_bio_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_002_widen_profiles_bio_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_002_widen_profiles_bio" ON "public"."profiles";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_002_widen_profiles_bio" ON "public"."profiles";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_002_widen_profiles_bio"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_002_widen_profiles_bio";
-- remove the new shape [transaction]
ALTER TABLE "public"."profiles"
  DROP COLUMN IF EXISTS "_bellows_bio";
