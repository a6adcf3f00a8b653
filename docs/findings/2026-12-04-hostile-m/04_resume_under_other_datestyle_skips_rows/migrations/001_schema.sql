CREATE TABLE t (id timestamp PRIMARY KEY, v text NOT NULL);
