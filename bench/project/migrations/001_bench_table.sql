-- Migration: 001_bench_table
-- Description: the table scripts/bench measures: a bigint key and ~100 bytes of text.
CREATE TABLE bench (
    id       bigint PRIMARY KEY,
    payload  text
);
