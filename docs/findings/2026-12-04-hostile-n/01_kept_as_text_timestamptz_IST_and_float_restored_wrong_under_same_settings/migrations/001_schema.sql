CREATE TYPE ev AS (at timestamptz, n int); CREATE TABLE t (id int PRIMARY KEY, e ev);
