CREATE TABLE t (id int PRIMARY KEY, name text, due text CHECK (due::date >= date '2000-01-01'));
