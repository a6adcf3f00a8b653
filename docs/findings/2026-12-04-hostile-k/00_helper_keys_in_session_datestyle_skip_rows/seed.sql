insert into t select timestamp '2026-01-01' + g * interval '1 minute', 'v'||g from generate_series(1,100000) g;
