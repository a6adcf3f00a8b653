-- Migration: 001_ledger_schema
-- Description: Undo 001_ledger_schema

BEGIN;
DROP TABLE entries, accounts;
COMMIT;
