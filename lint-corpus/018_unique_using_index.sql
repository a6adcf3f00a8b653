-- Safe: the index was built CONCURRENTLY in an earlier migration; attaching it is instant.
SET lock_timeout = '2s';
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
