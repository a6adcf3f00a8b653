SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN country text NOT NULL;
