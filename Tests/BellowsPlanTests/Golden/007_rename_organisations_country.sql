-- plan 007_rename_organisations_country on public.organisations, rendered offline from migrations/

-- ===== expand =====
-- the old version's schema of views (search_path "_bellows_007_rename_organisations_country_old", "public") [transaction]
CREATE SCHEMA "_bellows_007_rename_organisations_country_old";
-- the old version's schema of views (search_path "_bellows_007_rename_organisations_country_old", "public") [transaction]
CREATE VIEW "_bellows_007_rename_organisations_country_old"."organisations" WITH (security_invoker = true) AS
  SELECT "id", "name", "slug", "country", "created_at"
  FROM "public"."organisations";
-- every role may use the view as far as the table allows it (security_invoker: the table's privileges and policies apply) [transaction]
GRANT USAGE ON SCHEMA "_bellows_007_rename_organisations_country_old" TO PUBLIC;
-- every role may use the view as far as the table allows it (security_invoker: the table's privileges and policies apply) [transaction]
GRANT SELECT, INSERT, UPDATE, DELETE ON "_bellows_007_rename_organisations_country_old"."organisations" TO PUBLIC;
-- the new version's schema of views (search_path "_bellows_007_rename_organisations_country_new", "public") [transaction]
CREATE SCHEMA "_bellows_007_rename_organisations_country_new";
-- the new version's schema of views (search_path "_bellows_007_rename_organisations_country_new", "public") [transaction]
CREATE VIEW "_bellows_007_rename_organisations_country_new"."organisations" WITH (security_invoker = true) AS
  SELECT "id", "name", "slug", "country" AS "country_code", "created_at"
  FROM "public"."organisations";
-- every role may use the view as far as the table allows it (security_invoker: the table's privileges and policies apply) [transaction]
GRANT USAGE ON SCHEMA "_bellows_007_rename_organisations_country_new" TO PUBLIC;
-- every role may use the view as far as the table allows it (security_invoker: the table's privileges and policies apply) [transaction]
GRANT SELECT, INSERT, UPDATE, DELETE ON "_bellows_007_rename_organisations_country_new"."organisations" TO PUBLIC;

-- ===== backfill =====
-- (nothing to do)

-- ===== verify =====
-- (nothing to do)

-- ===== contract =====
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_007_rename_organisations_country_old" CASCADE;
-- rename the column in place (strategy: views): it keeps every property [transaction]
ALTER TABLE "public"."organisations" RENAME COLUMN "country" TO "country_code";
-- column comment [transaction]
COMMENT ON COLUMN "public"."organisations"."country_code" IS 'ISO 3166-1 alpha-2 country code';

-- ===== rollback =====
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_007_rename_organisations_country_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_007_rename_organisations_country_old" CASCADE;
