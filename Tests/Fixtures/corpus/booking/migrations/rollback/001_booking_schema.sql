-- Migration: 001_booking_schema
-- Description: Undo 001_booking_schema

BEGIN;
DROP SCHEMA ops CASCADE;
DROP TABLE reservations, rooms, "RoomTypes", members;
DROP FUNCTION touch_updated_at();
DROP COLLATION case_insensitive;
DROP TYPE member_tag, member_tier;
DROP DOMAIN cents;
DROP EXTENSION btree_gist;
COMMIT;
