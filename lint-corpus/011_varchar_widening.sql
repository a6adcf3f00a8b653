-- Safe: varchar(100) -> varchar(200) is binary coercible, no rewrite (orders.note is varchar(100) in 001).
SET lock_timeout = '2s';
ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);
