SET lock_timeout = '2s';
ALTER TABLE users DROP COLUMN old_code;
-- bellows:ignore drop-column: contract step, no deployed code reads legacy_flag since v2.3
ALTER TABLE users DROP COLUMN legacy_flag;
