CREATE TABLE t (id interval PRIMARY KEY, v text NOT NULL);
