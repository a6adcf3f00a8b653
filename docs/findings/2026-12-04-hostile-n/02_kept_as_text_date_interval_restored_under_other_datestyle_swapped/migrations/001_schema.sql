CREATE DOMAIN dday AS date; CREATE TABLE t (id int PRIMARY KEY, d dday);
