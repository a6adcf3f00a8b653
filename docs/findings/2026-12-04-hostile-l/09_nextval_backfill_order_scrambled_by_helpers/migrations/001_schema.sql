CREATE SEQUENCE t_seq;
CREATE TABLE t (id bigint PRIMARY KEY, a int, pad text);
