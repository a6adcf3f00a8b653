CREATE TABLE t (a int NOT NULL, b text NOT NULL, v text NOT NULL, PRIMARY KEY (a, b));
