-- Safe: varchar(n) -> text is binary coercible, no rewrite.
SET lock_timeout = '2s';
ALTER TABLE users ALTER COLUMN email TYPE text;
