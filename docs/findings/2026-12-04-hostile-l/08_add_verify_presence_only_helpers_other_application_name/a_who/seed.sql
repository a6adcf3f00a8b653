INSERT INTO t SELECT g, g, CASE WHEN g % 2 = 0 THEN 'import' END FROM generate_series(1,60000) g;
