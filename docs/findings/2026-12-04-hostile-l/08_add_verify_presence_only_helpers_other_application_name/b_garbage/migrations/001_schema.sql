CREATE TABLE t (id bigint PRIMARY KEY, a int, created_by text);
