SELECT count(*) FILTER (WHERE a2 IS DISTINCT FROM a::bigint*2) wrong FROM t;
