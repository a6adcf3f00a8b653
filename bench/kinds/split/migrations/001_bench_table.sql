-- Migration: 001_bench_table
-- Description: the table scripts/bench measures the change kinds on: a bigint key, ~100 bytes of text, an integer (every tenth row NULL).
CREATE TABLE bench (
    id       bigint PRIMARY KEY,
    payload  text,
    n        integer
);
