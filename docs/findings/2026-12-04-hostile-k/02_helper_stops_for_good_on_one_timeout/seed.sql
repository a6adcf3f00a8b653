insert into t select g, 'v'||g, g from generate_series(1,100000) g;
