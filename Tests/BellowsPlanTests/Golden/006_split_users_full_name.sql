-- plan 006_split_users_full_name on public.users, rendered offline from migrations/

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."users"
  ADD COLUMN IF NOT EXISTS "given_name" text,
  ADD COLUMN IF NOT EXISTS "family_name" text;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_006_split_users_full_name"() RETURNS trigger
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
  -- change 1: full_name -> given_name, family_name
  IF TG_OP = 'INSERT' THEN
    IF ROW(NEW."given_name", NEW."family_name") IS NULL THEN -- written by old code
      NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text;
      NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text;
    ELSE -- written by new code
      IF record_image_ne(ROW(NEW."given_name", NEW."family_name"), ROW((split_part(NEW."full_name", ' ', 1))::text, (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text)) THEN
        NEW."full_name" := (nullif(concat_ws(' ', NEW."given_name", NEW."family_name"), ''))::text;
      END IF;
    END IF;
  ELSIF record_image_ne(ROW(NEW."full_name"), ROW(OLD."full_name")) AND record_image_eq(ROW(NEW."given_name", NEW."family_name"), ROW(OLD."given_name", OLD."family_name")) THEN
    NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text;
    NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text;
  ELSIF record_image_ne(ROW(NEW."given_name", NEW."family_name"), ROW(OLD."given_name", OLD."family_name")) THEN
    IF ROW(OLD."given_name", OLD."family_name") IS NULL THEN -- a row the backfill has not reached
      IF NEW."given_name" IS NULL THEN NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text; END IF;
      IF NEW."family_name" IS NULL THEN NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text; END IF;
    END IF;
    IF record_image_ne(ROW(NEW."given_name", NEW."family_name"), ROW((split_part(NEW."full_name", ' ', 1))::text, (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text)) THEN
      NEW."full_name" := (nullif(concat_ws(' ', NEW."given_name", NEW."family_name"), ''))::text;
    END IF;
  ELSIF ROW(NEW."given_name", NEW."family_name") IS NULL THEN -- a row the backfill has not reached
    NEW."given_name" := (split_part(NEW."full_name", ' ', 1))::text;
    NEW."family_name" := (nullif(substr(NEW."full_name", strpos(NEW."full_name", ' ') + 1), NEW."full_name"))::text;
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
       count(*) FILTER (WHERE CASE WHEN record_image_ne(ROW("given_name", "family_name"), ROW((split_part(full_name, ' ', 1))::text, (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text)) THEN NOT (record_image_eq(ROW("full_name"), ROW((nullif(concat_ws(' ', "given_name", "family_name"), ''))::text)) AND ("given_name" IS NOT DISTINCT FROM (split_part(full_name, ' ', 1))::text AND "family_name" IS NOT DISTINCT FROM (nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name))::text)) ELSE false END) AS change_1
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $bellows$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD."id") IS DISTINCT FROM (NEW."id")) THEN
    INSERT INTO "bellows_archive"."006_split_users_full_name_users" AS bellows_a ("id", "_bellows_gone") VALUES (OLD."id", true)
    ON CONFLICT ("id") DO UPDATE SET "full_name" = NULL, "_bellows_gone" = true;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "bellows_archive"."006_split_users_full_name_users" AS bellows_a ("id", "full_name") VALUES (NEW."id", NEW."full_name")
    ON CONFLICT ("id") DO UPDATE SET "full_name" = EXCLUDED."full_name", "_bellows_gone" = false;
  END IF;
  RETURN NULL;
END
$bellows$;
-- every write from now on reaches the archive [archive]
CREATE TRIGGER "_bellows_archive_006_split_users_full_name" AFTER INSERT OR UPDATE OR DELETE ON "public"."users"
  FOR EACH ROW EXECUTE FUNCTION "bellows"."archive_006_split_users_full_name"();
-- every write from now on reaches the archive, in every session mode [archive]
ALTER TABLE "public"."users" ENABLE ALWAYS TRIGGER "_bellows_archive_006_split_users_full_name";
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
