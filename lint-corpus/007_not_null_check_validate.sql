-- Safe step 2 of 3: validation scans under SHARE UPDATE EXCLUSIVE (reads and writes go on).
SET lock_timeout = '2s';
ALTER TABLE users VALIDATE CONSTRAINT users_name_not_null;
