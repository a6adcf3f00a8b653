SELECT origin, count(*) FROM t GROUP BY 1 ORDER BY 1;
