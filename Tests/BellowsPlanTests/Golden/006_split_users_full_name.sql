-- plan 006_split_users_full_name on public.users, rendered offline from migrations/

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."users"
  ADD COLUMN IF NOT EXISTS "given_name" text,
  ADD COLUMN IF NOT EXISTS "family_name" text;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_006_split_users_full_name"() RETURNS trigger
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
  -- change 1: full_name -> given_name, family_name
  IF TG_OP = 'INSERT' THEN
    IF ROW(NEW."given_name", NEW."family_name") IS NULL THEN -- written by old code
      NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text;
      NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text;
    ELSE -- written by new code
      IF ((NEW."given_name" COLLATE "C") IS DISTINCT FROM ((split_part(NEW."full_name", ' ', 1))::text COLLATE "C") OR (NEW."family_name" COLLATE "C") IS DISTINCT FROM ((nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text COLLATE "C")) THEN
        NEW."full_name" := (nullif(concat_ws(' ', NEW."given_name", NEW."family_name"), ''))::text;
      END IF;
    END IF;
  ELSIF (NEW."full_name" COLLATE "C") IS DISTINCT FROM (OLD."full_name" COLLATE "C") AND ((NEW."given_name" COLLATE "C") IS NOT DISTINCT FROM (OLD."given_name" COLLATE "C") AND (NEW."family_name" COLLATE "C") IS NOT DISTINCT FROM (OLD."family_name" COLLATE "C")) THEN
    NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text;
    NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text;
  ELSIF ((NEW."given_name" COLLATE "C") IS DISTINCT FROM (OLD."given_name" COLLATE "C") OR (NEW."family_name" COLLATE "C") IS DISTINCT FROM (OLD."family_name" COLLATE "C")) THEN
    IF NOT has_column_privilege(TG_RELID, 'full_name', 'UPDATE') THEN
      RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'permission denied to update column "given_name", "family_name" of table users', DETAIL = 'Until contract of Bellows plan 006_split_users_full_name, "given_name", "family_name" is written through "full_name", and the role may not UPDATE "full_name".';
    END IF;
    IF ROW(OLD."given_name", OLD."family_name") IS NULL THEN -- a row the backfill has not reached
      IF NEW."given_name" IS NULL THEN NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text; END IF;
      IF NEW."family_name" IS NULL THEN NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text; END IF;
    END IF;
    IF ((NEW."given_name" COLLATE "C") IS DISTINCT FROM ((split_part(NEW."full_name", ' ', 1))::text COLLATE "C") OR (NEW."family_name" COLLATE "C") IS DISTINCT FROM ((nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text COLLATE "C")) THEN
      NEW."full_name" := (nullif(concat_ws(' ', NEW."given_name", NEW."family_name"), ''))::text;
    END IF;
  ELSIF ROW(NEW."given_name", NEW."family_name") IS NULL THEN -- a row the backfill has not reached
    NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text;
    NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text;
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
CREATE TRIGGER "~bellows_sync_006_split_users_full_name" BEFORE INSERT OR UPDATE ON "public"."users"
  FOR EACH ROW WHEN (current_setting('bellows.backfill', true) IS DISTINCT FROM '006_split_users_full_name')
  EXECUTE FUNCTION "bellows"."sync_006_split_users_full_name"();
-- the dual-write trigger fires for every writer [transaction]
ALTER TABLE "public"."users" ENABLE ALWAYS TRIGGER "~bellows_sync_006_split_users_full_name";
-- record what up and down use, so that PostgreSQL refuses to drop it while the plan is in flight [transaction]
CREATE VIEW "bellows"."_bellows_plan_006_split_users_full_name" AS
  SELECT (split_part(full_name, ' ', 1))::text AS "e1",
         (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text AS "e2",
         (nullif(concat_ws(' ', "given_name", "family_name"), ''))::text AS "e3"
  FROM "public"."users" AS bellows_row WHERE false;
-- say whose view it is [transaction]
COMMENT ON VIEW "bellows"."_bellows_plan_006_split_users_full_name" IS 'Bellows plan 006_split_users_full_name is in flight on public.users: its dual-write trigger calls what this view uses, so PostgreSQL refuses to drop it; contract or rollback of the plan drops the view';

-- ===== backfill =====
-- one keyset batch, repeated (in one transaction with the saved cursor): its last key [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $2::bigint AS bellows_scanned FROM "public"."users" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint)
    ORDER BY "id" OFFSET $2::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."users" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."users" WHERE ("id") > ($1::bigint) AND ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
-- the batch's rows, between the cursor and that key [transaction]
UPDATE "public"."users" SET
  "given_name" = (split_part(full_name, ' ', 1))::text,
  "family_name" = (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
  AND ((ROW("given_name", "family_name") IS NULL AND NOT ROW((split_part(full_name, ' ', 1))::text, (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text) IS NULL));
-- the first batch (no cursor yet) [transaction]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $1::bigint AS bellows_scanned FROM "public"."users" WHERE ("id") <= ($2::bigint)
    ORDER BY "id" OFFSET $1::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."users" WHERE ("id") <= ($2::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."users" WHERE ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
UPDATE "public"."users" SET
  "given_name" = (split_part(full_name, ' ', 1))::text,
  "family_name" = (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text
WHERE ("id") <= ($1::bigint)
  AND ((ROW("given_name", "family_name") IS NULL AND NOT ROW((split_part(full_name, ' ', 1))::text, (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text) IS NULL));

-- ===== verify =====
-- prove every row agrees with up (one scan) [transaction]
SELECT count(*) AS total,
       count(*) FILTER (WHERE CASE WHEN (("given_name" COLLATE "C") IS DISTINCT FROM ((split_part(full_name, ' ', 1))::text COLLATE "C") OR ("family_name" COLLATE "C") IS DISTINCT FROM ((nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text COLLATE "C")) THEN NOT (record_image_eq(ROW("full_name"), ROW((nullif(concat_ws(' ', "given_name", "family_name"), ''))::text)) AND ("given_name" IS NOT DISTINCT FROM (split_part(full_name, ' ', 1))::text AND "family_name" IS NOT DISTINCT FROM (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text)) ELSE false END) AS change_1
FROM "public"."users";
-- check full_name_round_trips must return 0 [transaction]
SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM nullif(concat_ws(' ', given_name, family_name), '');
-- check no_empty_full_names must return 0 [transaction]
SELECT count(*) FROM users WHERE full_name = '';

-- ===== contract =====
-- the archive's schema [archive]
CREATE SCHEMA IF NOT EXISTS "bellows_archive";
-- an unrecorded archive a contract that never committed left [archive]
DROP TABLE IF EXISTS "bellows_archive"."006_split_users_full_name_users";
-- the archive of the columns contract drops, keyed by the table's key [archive]
CREATE TABLE "bellows_archive"."006_split_users_full_name_users" (
  "id" bigint NOT NULL,
  "full_name" text,
  "_bellows_gone" boolean NOT NULL DEFAULT false,
  PRIMARY KEY ("id")
);
-- the rows deleted while the archive fills, found under contract's lock without a scan [archive]
CREATE INDEX ON "bellows_archive"."006_split_users_full_name_users" ("id") WHERE "_bellows_gone";
-- every write from now on reaches the archive (as the table's owner: writers need no privilege on it) [archive]
CREATE OR REPLACE FUNCTION "bellows"."archive_006_split_users_full_name"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, "public", pg_temp SET row_security = off AS $bellows$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD."id") IS DISTINCT FROM (NEW."id")) THEN
    INSERT INTO "bellows_archive"."006_split_users_full_name_users" AS bellows_a ("id", "full_name", "_bellows_gone")
        SELECT OLD."id", bellows_r."full_name", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."full_name", true AS bellows_found
            FROM "public"."users" AS bellows_t WHERE bellows_t."id" = OLD."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "full_name" = EXCLUDED."full_name", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "bellows_archive"."006_split_users_full_name_users" AS bellows_a ("id", "full_name", "_bellows_gone")
        SELECT NEW."id", bellows_r."full_name", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."full_name", true AS bellows_found
            FROM "public"."users" AS bellows_t WHERE bellows_t."id" = NEW."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "full_name" = EXCLUDED."full_name", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  RETURN NULL;
END
$bellows$;
-- the trigger a contract killed during its archive left, when there is one (its function is replaced) [archive]
DROP TRIGGER IF EXISTS "!_bellows_archive_006_split_users_full_name" ON "public"."users";
-- the same, under the name an earlier Bellows gave it [archive]
DROP TRIGGER IF EXISTS "_bellows_archive_006_split_users_full_name" ON "public"."users";
-- every write from now on reaches the archive, before the table's own AFTER triggers [archive]
CREATE TRIGGER "!_bellows_archive_006_split_users_full_name" AFTER INSERT OR UPDATE OR DELETE ON "public"."users"
  FOR EACH ROW EXECUTE FUNCTION "bellows"."archive_006_split_users_full_name"();
-- every write from now on reaches the archive, in every session mode [archive]
ALTER TABLE "public"."users" ENABLE ALWAYS TRIGGER "!_bellows_archive_006_split_users_full_name";
-- each archive batch [archive]
WITH bellows_bound AS MATERIALIZED (
  (SELECT "id" AS bellows_k1, $2::bigint AS bellows_scanned FROM "public"."users" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint)
    ORDER BY "id" OFFSET $2::bigint - 1 LIMIT 1)
  UNION ALL
  (SELECT "id" AS bellows_k1, NULL::bigint FROM "public"."users" WHERE ("id") > ($1::bigint) AND ("id") <= ($3::bigint) ORDER BY "id" DESC LIMIT 1)
  LIMIT 1
)
SELECT coalesce(bellows_scanned, (SELECT count(*) FROM "public"."users" WHERE ("id") > ($1::bigint) AND ("id") <= (bellows_bound.bellows_k1))) AS scanned,
       ARRAY[bellows_k1::text] AS last_key
FROM bellows_bound;
INSERT INTO "bellows_archive"."006_split_users_full_name_users" ("id", "full_name")
SELECT "id", "full_name" FROM "public"."users"
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
ON CONFLICT ("id") DO NOTHING;
-- the archive is complete: no write can happen under this lock [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "!_bellows_archive_006_split_users_full_name" ON "public"."users";
-- the same, under the name an earlier Bellows gave it [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "_bellows_archive_006_split_users_full_name" ON "public"."users";
-- the archive is complete [archive, in contract's transaction]
DROP FUNCTION IF EXISTS "bellows"."archive_006_split_users_full_name"();
-- rows deleted while the archive filled (partial index, no scan) [archive, in contract's transaction]
DELETE FROM "bellows_archive"."006_split_users_full_name_users" WHERE "_bellows_gone";
-- the tombstones' column (catalog only) [archive, in contract's transaction]
ALTER TABLE "bellows_archive"."006_split_users_full_name_users" DROP COLUMN "_bellows_gone";
-- hold the table; the dual-write trigger must be as verify saw it [transaction]
LOCK TABLE "public"."users" IN ACCESS EXCLUSIVE MODE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_006_split_users_full_name_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_006_split_users_full_name" ON "public"."users";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_006_split_users_full_name" ON "public"."users";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_006_split_users_full_name"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_006_split_users_full_name";
-- remove the old shape [transaction]
ALTER TABLE "public"."users"
  DROP COLUMN "full_name";

-- ===== rollback =====
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_006_split_users_full_name_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_006_split_users_full_name_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_006_split_users_full_name" ON "public"."users";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_006_split_users_full_name" ON "public"."users";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_006_split_users_full_name"();
-- the view recording what up and down use [transaction]
DROP VIEW IF EXISTS "bellows"."_bellows_plan_006_split_users_full_name";
-- remove the new shape [transaction]
ALTER TABLE "public"."users"
  DROP COLUMN IF EXISTS "given_name",
  DROP COLUMN IF EXISTS "family_name";
