INSERT INTO t SELECT g, 'Ann '||g, 'F'||g, 'L'||g FROM generate_series(1,80000) g;
