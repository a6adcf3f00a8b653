CREATE TABLE t (id bigint PRIMARY KEY, pad text);
