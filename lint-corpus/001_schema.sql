-- Migration: 001_schema
-- Description: Base tables for the corpus (new tables: nothing here is dangerous).
SET lock_timeout = '2s';
CREATE TYPE order_status AS ENUM ('pending', 'paid');
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email varchar(100),
    name text,
    legacy_flag boolean,
    old_code text
);
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint,
    status order_status NOT NULL DEFAULT 'pending',
    total numeric(10, 2),
    note varchar(100),
    created_at timestamp
);
CREATE TABLE audit_log (id bigint PRIMARY KEY, payload jsonb);
