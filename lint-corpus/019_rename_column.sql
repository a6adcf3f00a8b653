SET lock_timeout = '2s';
ALTER TABLE users RENAME COLUMN name TO full_name;
