CREATE DOMAIN dur AS interval; CREATE TABLE t (id int PRIMARY KEY, d dur);
