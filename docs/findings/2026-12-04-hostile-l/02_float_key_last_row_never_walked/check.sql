SET extra_float_digits=3; SELECT count(*) FILTER (WHERE a2 IS DISTINCT FROM a::bigint*2) wrong, max(id)::text FROM t; SELECT id::text, a, a2 FROM t WHERE a2 IS NULL LIMIT 5;
