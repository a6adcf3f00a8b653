CREATE TABLE t (id bigint PRIMARY KEY, ts timestamptz NOT NULL, a text);
