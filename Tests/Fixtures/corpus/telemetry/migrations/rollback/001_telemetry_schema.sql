-- Migration: 001_telemetry_schema
-- Description: Undo 001_telemetry_schema

BEGIN;
DROP TABLE alerts, readings, devices;
DROP TYPE device_kind;
COMMIT;
