CREATE DOMAIN price AS float8; CREATE TABLE t (id int PRIMARY KEY, p price);
