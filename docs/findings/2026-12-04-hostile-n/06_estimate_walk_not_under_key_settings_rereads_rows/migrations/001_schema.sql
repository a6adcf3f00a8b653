CREATE TABLE t (id timestamptz PRIMARY KEY, v text NOT NULL);
