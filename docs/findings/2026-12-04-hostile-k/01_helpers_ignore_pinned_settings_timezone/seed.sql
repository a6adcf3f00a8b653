insert into t select g, timestamptz '2026-01-01 00:00:00+00' + (g % 24) * interval '1 hour', 'v'||g from generate_series(1,100000) g;
