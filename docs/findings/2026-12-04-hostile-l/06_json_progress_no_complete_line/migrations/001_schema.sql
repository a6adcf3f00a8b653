CREATE TABLE t (id bigint PRIMARY KEY, full_name text, first text, last text);
