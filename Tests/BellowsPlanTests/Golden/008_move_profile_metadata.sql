-- plan 008_move_profile_metadata on public.profiles, rendered offline from migrations/

-- ===== expand =====
-- the new table, keyed by public.profiles's key, with the moved columns [transaction]
CREATE TABLE "public"."profile_metadata" (
  "id" bigint NOT NULL,
  "bio" character varying(500),
  "location" text,
  "website" text,
  PRIMARY KEY ("id"),
  FOREIGN KEY ("id") REFERENCES "public"."profiles" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
-- the function keeping the new table in step with the source [transaction]
CREATE FUNCTION "bellows"."move_008_move_profile_metadata_from_source"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, "public", pg_temp AS $bellows$
DECLARE
  bellows_previous text := current_setting('bellows.backfill', true);
BEGIN
  IF TG_OP = 'UPDATE' AND ROW(OLD."id", OLD."bio", OLD."location", OLD."website") IS NOT DISTINCT FROM ROW(NEW."id", NEW."bio", NEW."location", NEW."website") THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('bellows.backfill', '008_move_profile_metadata', true);
  IF TG_OP = 'DELETE' THEN
    DELETE FROM "public"."profile_metadata" WHERE "id" = OLD."id";
  ELSE
    INSERT INTO "public"."profile_metadata" ("id", "bio", "location", "website")
      VALUES (NEW."id", NEW."bio", NEW."location", NEW."website")
      ON CONFLICT ("id") DO UPDATE SET "bio" = EXCLUDED."bio", "location" = EXCLUDED."location", "website" = EXCLUDED."website";
  END IF;
  PERFORM set_config('bellows.backfill', coalesce(bellows_previous, ''), true);
  RETURN NULL;
END
$bellows$;
-- the function keeping the source in step with the new table [transaction]
CREATE FUNCTION "bellows"."move_008_move_profile_metadata_from_target"() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, "public", pg_temp AS $bellows$
DECLARE
  bellows_previous text := current_setting('bellows.backfill', true);
  bellows_written bigint;
  bellows_same boolean;
  bellows_set text[] := '{}';
  bellows_left text[] := '{}';
  bellows_right text[] := '{}';
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT FROM "public"."profiles" WHERE "id" = OLD."id") THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('row (%s) of %s cannot be deleted while plan %s moves its columns: its row in %s is still there', concat_ws(', ', OLD."id"::text), 'public.profile_metadata', '008_move_profile_metadata', 'public.profiles'),
        HINT = 'until the plan is contracted, clear the moved columns with an UPDATE (to NULL or their defaults), or delete the row of public.profiles (its row here goes with it)';
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' OR OLD."bio" IS DISTINCT FROM NEW."bio" THEN
    bellows_set := array_append(bellows_set, '"bio" = ($1)."bio"');
    bellows_left := array_append(bellows_left, '"bio"');
    bellows_right := array_append(bellows_right, '($1)."bio"');
  END IF;
  IF TG_OP = 'INSERT' OR OLD."location" IS DISTINCT FROM NEW."location" THEN
    bellows_set := array_append(bellows_set, '"location" = ($1)."location"');
    bellows_left := array_append(bellows_left, '"location"');
    bellows_right := array_append(bellows_right, '($1)."location"');
  END IF;
  IF TG_OP = 'INSERT' OR OLD."website" IS DISTINCT FROM NEW."website" THEN
    bellows_set := array_append(bellows_set, '"website" = ($1)."website"');
    bellows_left := array_append(bellows_left, '"website"');
    bellows_right := array_append(bellows_right, '($1)."website"');
  END IF;
  IF cardinality(bellows_set) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('bellows.backfill', '008_move_profile_metadata', true);
  EXECUTE 'UPDATE "public"."profiles" SET ' || array_to_string(bellows_set, ', ')
    || ' WHERE "id" = ($1)."id" AND ROW(' || array_to_string(bellows_left, ', ')
    || ') IS DISTINCT FROM ROW(' || array_to_string(bellows_right, ', ') || ')' USING NEW;
  GET DIAGNOSTICS bellows_written = ROW_COUNT;
  PERFORM set_config('bellows.backfill', coalesce(bellows_previous, ''), true);
  IF bellows_written = 0 THEN
    EXECUTE 'SELECT EXISTS (SELECT FROM "public"."profiles" WHERE "id" = ($1)."id" AND ROW(' || array_to_string(bellows_left, ', ')
      || ') IS NOT DISTINCT FROM ROW(' || array_to_string(bellows_right, ', ') || '))' INTO bellows_same USING NEW;
  END IF;
  IF bellows_written = 0 AND NOT bellows_same THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('role %s may not write row (%s) of %s: until plan %s is contracted a write here writes the moved columns of its row in %s, which row-level security hides from the role or keeps it from updating', current_user, concat_ws(', ', NEW."id"::text), 'public.profile_metadata', '008_move_profile_metadata', 'public.profiles');
  END IF;
  RETURN NULL;
END
$bellows$;
-- source writes reach the new table [transaction]
CREATE TRIGGER "~bellows_move_008_move_profile_metadata" AFTER INSERT OR UPDATE OR DELETE ON "public"."profiles"
  FOR EACH ROW WHEN (current_setting('bellows.backfill', true) IS DISTINCT FROM '008_move_profile_metadata')
  EXECUTE FUNCTION "bellows"."move_008_move_profile_metadata_from_source"();
-- it fires for every writer [transaction]
ALTER TABLE "public"."profiles" ENABLE ALWAYS TRIGGER "~bellows_move_008_move_profile_metadata";
-- new table writes reach the source [transaction]
CREATE TRIGGER "~bellows_move_008_move_profile_metadata" AFTER INSERT OR UPDATE OR DELETE ON "public"."profile_metadata"
  FOR EACH ROW WHEN (current_setting('bellows.backfill', true) IS DISTINCT FROM '008_move_profile_metadata')
  EXECUTE FUNCTION "bellows"."move_008_move_profile_metadata_from_target"();
-- it fires for every writer [transaction]
ALTER TABLE "public"."profile_metadata" ENABLE ALWAYS TRIGGER "~bellows_move_008_move_profile_metadata";

-- ===== backfill =====
-- the walk's end: the largest key now [transaction]
SELECT ARRAY["id"::text] AS max_key FROM "public"."profiles" ORDER BY "id" DESC LIMIT 1;
-- one keyset batch (later batches start after the cursor) [transaction]
WITH batch AS (
  SELECT "id", "bio", "location", "website" FROM "public"."profiles"
  WHERE ROW("id") <= ROW($1::bigint)
  ORDER BY "id" LIMIT $2 FOR KEY SHARE
), copied AS (
  INSERT INTO "public"."profile_metadata" ("id", "bio", "location", "website")
  SELECT "id", "bio", "location", "website" FROM batch
  ON CONFLICT ("id") DO NOTHING RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS scanned, (SELECT count(*) FROM copied) AS copied,
       (SELECT ARRAY["id"::text] FROM batch ORDER BY "id" DESC LIMIT 1) AS last_key;

-- ===== verify =====
-- every source row has its counterpart, with equal values [transaction]
SELECT count(*) OVER () AS n, count(*) FILTER (WHERE t."id" IS NULL) OVER () AS missing,
       ARRAY[s."id"::text] AS example, t."id" IS NULL AS example_missing
FROM "public"."profiles" AS s LEFT JOIN "public"."profile_metadata" AS t ON s."id" = t."id"
WHERE t."id" IS NULL OR ROW(s."bio", s."location", s."website") IS DISTINCT FROM ROW(t."bio", t."location", t."website")
ORDER BY s."id" LIMIT 1;
-- no row of the new table is orphaned [transaction]
SELECT count(*) OVER () AS n, ARRAY[t."id"::text] AS example
FROM "public"."profile_metadata" AS t WHERE NOT EXISTS (SELECT FROM "public"."profiles" AS s WHERE s."id" = t."id")
ORDER BY t."id" LIMIT 1;

-- ===== contract =====
-- the new table first, in the order its writers take the two tables [transaction]
LOCK TABLE "public"."profile_metadata" IN SHARE ROW EXCLUSIVE MODE;
-- the source's trigger [transaction]
DROP TRIGGER IF EXISTS "~bellows_move_008_move_profile_metadata" ON "public"."profiles";
-- the new table's trigger [transaction]
DROP TRIGGER IF EXISTS "~bellows_move_008_move_profile_metadata" ON "public"."profile_metadata";
-- their functions [transaction]
DROP FUNCTION IF EXISTS "bellows"."move_008_move_profile_metadata_from_source"(), "bellows"."move_008_move_profile_metadata_from_target"();
-- the moved columns leave the source (the new table's foreign key stays) [transaction]
ALTER TABLE "public"."profiles"
  DROP COLUMN "bio",
  DROP COLUMN "location",
  DROP COLUMN "website";

-- ===== rollback =====
-- the new table's trigger, first and alone [standalone]
DROP TRIGGER IF EXISTS "~bellows_move_008_move_profile_metadata" ON "public"."profile_metadata";
-- the source's trigger [transaction]
DROP TRIGGER IF EXISTS "~bellows_move_008_move_profile_metadata" ON "public"."profiles";
-- the new table [transaction]
DROP TABLE IF EXISTS "public"."profile_metadata";
-- their functions [transaction]
DROP FUNCTION IF EXISTS "bellows"."move_008_move_profile_metadata_from_source"(), "bellows"."move_008_move_profile_metadata_from_target"();
