CREATE TABLE t (id float8 PRIMARY KEY, a int);
