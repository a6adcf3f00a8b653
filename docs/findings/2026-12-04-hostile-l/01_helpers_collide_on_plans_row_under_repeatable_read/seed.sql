INSERT INTO t SELECT g, g%1000, repeat('x',50) FROM generate_series(1,60000) g;
