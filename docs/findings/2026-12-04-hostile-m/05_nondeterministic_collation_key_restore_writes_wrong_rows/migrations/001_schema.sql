CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE t (id text COLLATE ci NOT NULL, v text NOT NULL);
CREATE UNIQUE INDEX t_id_c ON t (id COLLATE "C");
