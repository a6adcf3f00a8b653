-- Safe step 1 of 3: the check is enforced for new rows at once, no scan.
SET lock_timeout = '2s';
ALTER TABLE users ADD CONSTRAINT users_name_not_null CHECK (name IS NOT NULL) NOT VALID;
