INSERT INTO t SELECT g, repeat(md5(g::text), 8) FROM generate_series(1,200000) g;
