-- plan 009_rename_audit_log on public.audit_log, rendered offline from migrations/

-- ===== expand =====
-- the new name, for the new version: a view over the table (automatically updatable: SELECT, INSERT, UPDATE, DELETE, RETURNING, ON CONFLICT (columns); until contract not COPY, TRUNCATE, ON CONFLICT ON CONSTRAINT or DDL: docs/plans.md#renaming-a-table-rename_table_to) [transaction]
CREATE VIEW "public"."audit_events" WITH (security_invoker = true) AS
  SELECT * FROM "public"."audit_log";
-- say whose view it is [transaction]
COMMENT ON VIEW "public"."audit_events" IS 'Bellows plan 009_rename_audit_log renames public.audit_log to audit_events: until its contract, audit_events is this view over the table; contract drops the view and renames the table';
-- every role may use the view as far as the table allows it (security_invoker: the table's privileges and policies apply) [transaction]
GRANT SELECT, INSERT, UPDATE, DELETE ON "public"."audit_events" TO PUBLIC;

-- ===== backfill =====
-- (nothing to do)

-- ===== verify =====
-- (nothing to do)

-- ===== contract =====
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_009_rename_audit_log_old" CASCADE;
-- the view under the new name goes [transaction]
DROP VIEW IF EXISTS "public"."audit_events";
-- the table takes its new name (contract decides the renames below again from pg_catalog under its lock: an identity's sequence too, which migrations/ does not show; render -d shows them) [transaction]
ALTER TABLE "public"."audit_log" RENAME TO "audit_events";
-- a name that embeds the old table name follows it [transaction]
ALTER TABLE "public"."audit_events" RENAME CONSTRAINT "audit_log_actor_id_fkey" TO "audit_events_actor_id_fkey";
-- a name that embeds the old table name follows it [transaction]
ALTER TABLE "public"."audit_events" RENAME CONSTRAINT "audit_log_pkey" TO "audit_events_pkey";
-- a name that embeds the old table name follows it [transaction]
ALTER INDEX "public"."audit_log_entity_idx" RENAME TO "audit_events_entity_idx";

-- ===== rollback =====
-- the view under the new name goes [transaction]
DROP VIEW IF EXISTS "public"."audit_events";
-- drop the new version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_009_rename_audit_log_new" CASCADE;
-- drop the old version's schema of views [transaction]
DROP SCHEMA IF EXISTS "_bellows_009_rename_audit_log_old" CASCADE;
