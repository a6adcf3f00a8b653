-- plan 001_rename_users_email on public.users, rendered offline from migrations/
-- depends on a replaced column: index users_email_key: recreated — as UNIQUE (email_address) users_email_address_key
-- depends on a replaced column: NOT NULL of email: carried

-- ===== expand =====
-- add the new shape beside the old [transaction]
ALTER TABLE "public"."users"
  ADD COLUMN IF NOT EXISTS "email_address" text,
  ADD CONSTRAINT "_bellows_users_email_address_not_null" CHECK ("email_address" IS NOT NULL) NOT VALID;
-- the dual-write function [transaction]
CREATE OR REPLACE FUNCTION "bellows"."sync_001_rename_users_email"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, "public", pg_temp AS $bellows$
DECLARE
  bellows_up record;
BEGIN
  -- change 1: email -> email_address
  IF TG_OP = 'INSERT' THEN
    IF ROW(NEW."email_address") IS NULL THEN -- written by old code
      NEW."email_address" := (NEW."email")::text;
    ELSE -- written by new code
      IF (NEW."email_address" COLLATE "C") IS DISTINCT FROM ((NEW."email")::text COLLATE "C") THEN
        NEW."email" := (NEW."email_address")::text;
      END IF;
    END IF;
  ELSIF (NEW."email" COLLATE "C") IS DISTINCT FROM (OLD."email" COLLATE "C") AND (NEW."email_address" COLLATE "C") IS NOT DISTINCT FROM (OLD."email_address" COLLATE "C") THEN
    NEW."email_address" := (NEW."email")::text;
  ELSIF (NEW."email_address" COLLATE "C") IS DISTINCT FROM (OLD."email_address" COLLATE "C") THEN
    IF NOT has_column_privilege(TG_RELID, 'email', 'UPDATE') THEN
      RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'permission denied to update column "email_address" of table users', DETAIL = 'Until contract of Bellows plan 001_rename_users_email, "email_address" is written through "email", and the role may not UPDATE "email".';
    END IF;
    IF (NEW."email_address" COLLATE "C") IS DISTINCT FROM ((NEW."email")::text COLLATE "C") THEN
      NEW."email" := (NEW."email_address")::text;
    END IF;
  ELSIF ROW(NEW."email_address") IS NULL THEN -- a row the backfill has not reached
    NEW."email_address" := (NEW."email")::text;
  END IF;
  RETURN NEW;
END
$bellows$;
-- the dual-write trigger [transaction]
CREATE TRIGGER "~bellows_sync_001_rename_users_email" BEFORE INSERT OR UPDATE ON "public"."users"
  FOR EACH ROW WHEN ((NEW."email" COLLATE "C") IS DISTINCT FROM (NEW."email_address" COLLATE "C") AND current_setting('bellows.backfill', true) IS DISTINCT FROM '001_rename_users_email')
  EXECUTE FUNCTION "bellows"."sync_001_rename_users_email"();
-- the dual-write trigger fires for every writer [transaction]
ALTER TABLE "public"."users" ENABLE ALWAYS TRIGGER "~bellows_sync_001_rename_users_email";
-- build an index without blocking writes [standalone]
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "_bellows_users_email_address_key" ON "public"."users" ("email_address");

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
  "email_address" = ("email")::text
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
  AND ((ROW("email_address") IS NULL AND NOT ROW(("email")::text) IS NULL));
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
  "email_address" = ("email")::text
WHERE ("id") <= ($1::bigint)
  AND ((ROW("email_address") IS NULL AND NOT ROW(("email")::text) IS NULL));

-- ===== verify =====
-- prove every row agrees with up (one scan) [transaction]
SELECT count(*) AS total,
       count(*) FILTER (WHERE CASE WHEN ("email_address" COLLATE "C") IS DISTINCT FROM (("email")::text COLLATE "C") THEN NOT (record_image_eq(ROW("email"), ROW(("email_address")::text)) AND "email_address" IS NOT DISTINCT FROM ("email")::text) ELSE false END) AS change_1
FROM "public"."users";
-- validate without blocking writes [standalone]
ALTER TABLE "public"."users" VALIDATE CONSTRAINT "_bellows_users_email_address_not_null";
-- check every_user_has_an_email_address must return 0 [transaction]
SELECT count(*) FROM users WHERE email_address IS NULL;
-- check email_addresses_unique_ignoring_case must return 0 [transaction]
SELECT count(*) FROM (SELECT lower(email_address) FROM users GROUP BY 1 HAVING count(*) > 1) AS duplicates;

-- ===== contract =====
-- the archive's schema [archive]
CREATE SCHEMA IF NOT EXISTS "bellows_archive";
-- an unrecorded archive a contract that never committed left [archive]
DROP TABLE IF EXISTS "bellows_archive"."001_rename_users_email_users";
-- the archive of the columns contract drops, keyed by the table's key [archive]
CREATE TABLE "bellows_archive"."001_rename_users_email_users" (
  "id" bigint NOT NULL,
  "email" text,
  "_bellows_gone" boolean NOT NULL DEFAULT false,
  PRIMARY KEY ("id")
);
-- the rows deleted while the archive fills, found under contract's lock without a scan [archive]
CREATE INDEX ON "bellows_archive"."001_rename_users_email_users" ("id") WHERE "_bellows_gone";
-- every write from now on reaches the archive (as the table's owner: writers need no privilege on it) [archive]
CREATE OR REPLACE FUNCTION "bellows"."archive_001_rename_users_email"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, "public", pg_temp SET row_security = off AS $bellows$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD."id") IS DISTINCT FROM (NEW."id")) THEN
    INSERT INTO "bellows_archive"."001_rename_users_email_users" AS bellows_a ("id", "email", "_bellows_gone")
        SELECT OLD."id", bellows_r."email", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."email", true AS bellows_found
            FROM "public"."users" AS bellows_t WHERE bellows_t."id" = OLD."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "email" = EXCLUDED."email", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "bellows_archive"."001_rename_users_email_users" AS bellows_a ("id", "email", "_bellows_gone")
        SELECT NEW."id", bellows_r."email", bellows_r.bellows_found IS NULL
        FROM (SELECT) AS bellows_event LEFT JOIN LATERAL (
            SELECT bellows_t."email", true AS bellows_found
            FROM "public"."users" AS bellows_t WHERE bellows_t."id" = NEW."id" LIMIT 1) AS bellows_r ON true
        ON CONFLICT ("id") DO UPDATE SET "email" = EXCLUDED."email", "_bellows_gone" = EXCLUDED."_bellows_gone";
  END IF;
  RETURN NULL;
END
$bellows$;
-- the trigger a contract killed during its archive left, when there is one (its function is replaced) [archive]
DROP TRIGGER IF EXISTS "!_bellows_archive_001_rename_users_email" ON "public"."users";
-- the same, under the name an earlier Bellows gave it [archive]
DROP TRIGGER IF EXISTS "_bellows_archive_001_rename_users_email" ON "public"."users";
-- every write from now on reaches the archive, before the table's own AFTER triggers [archive]
CREATE TRIGGER "!_bellows_archive_001_rename_users_email" AFTER INSERT OR UPDATE OR DELETE ON "public"."users"
  FOR EACH ROW EXECUTE FUNCTION "bellows"."archive_001_rename_users_email"();
-- every write from now on reaches the archive, in every session mode [archive]
ALTER TABLE "public"."users" ENABLE ALWAYS TRIGGER "!_bellows_archive_001_rename_users_email";
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
INSERT INTO "bellows_archive"."001_rename_users_email_users" ("id", "email")
SELECT "id", "email" FROM "public"."users"
WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint)
ON CONFLICT ("id") DO NOTHING;
-- the archive is complete: no write can happen under this lock [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "!_bellows_archive_001_rename_users_email" ON "public"."users";
-- the same, under the name an earlier Bellows gave it [archive, in contract's transaction]
DROP TRIGGER IF EXISTS "_bellows_archive_001_rename_users_email" ON "public"."users";
-- the archive is complete [archive, in contract's transaction]
DROP FUNCTION IF EXISTS "bellows"."archive_001_rename_users_email"();
-- rows deleted while the archive filled (partial index, no scan) [archive, in contract's transaction]
DELETE FROM "bellows_archive"."001_rename_users_email_users" WHERE "_bellows_gone";
-- the tombstones' column (catalog only) [archive, in contract's transaction]
ALTER TABLE "bellows_archive"."001_rename_users_email_users" DROP COLUMN "_bellows_gone";
-- hold the table; the dual-write trigger must be as verify saw it [transaction]
LOCK TABLE "public"."users" IN ACCESS EXCLUSIVE MODE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_001_rename_users_email_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_001_rename_users_email" ON "public"."users";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_001_rename_users_email" ON "public"."users";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_001_rename_users_email"();
-- remove the old shape [transaction]
ALTER TABLE "public"."users"
  DROP COLUMN "email";
-- NOT NULL, proved by the validated check (no scan) [transaction]
ALTER TABLE "public"."users"
  ALTER COLUMN "email_address" SET NOT NULL;
-- final constraints [transaction]
ALTER TABLE "public"."users"
  DROP CONSTRAINT "_bellows_users_email_address_not_null",
  ADD CONSTRAINT "users_email_address_key" UNIQUE USING INDEX "_bellows_users_email_address_key";
-- column comment [transaction]
COMMENT ON COLUMN "public"."users"."email_address" IS 'Login and contact address, unique as stored (case preserved)';

-- ===== rollback =====
-- drop an index without blocking writes [standalone]
DROP INDEX CONCURRENTLY IF EXISTS "public"."_bellows_users_email_address_key";
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_001_rename_users_email_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_001_rename_users_email_old" CASCADE;
-- stop dual writes [transaction]
DROP TRIGGER IF EXISTS "~bellows_sync_001_rename_users_email" ON "public"."users";
-- stop dual writes (the trigger's name before Bellows fired it last) [transaction]
DROP TRIGGER IF EXISTS "_bellows_sync_001_rename_users_email" ON "public"."users";
-- stop dual writes [transaction]
DROP FUNCTION IF EXISTS "bellows"."sync_001_rename_users_email"();
-- remove the new shape [transaction]
ALTER TABLE "public"."users"
  DROP CONSTRAINT IF EXISTS "_bellows_users_email_address_not_null",
  DROP COLUMN IF EXISTS "email_address";
