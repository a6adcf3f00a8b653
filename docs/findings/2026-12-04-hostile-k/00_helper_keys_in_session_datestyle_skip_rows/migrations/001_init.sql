CREATE TABLE t (id timestamp PRIMARY KEY, a text);
