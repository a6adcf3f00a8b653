INSERT INTO t SELECT g/7.0::float8, g FROM generate_series(1,30001) g;
