SELECT count(*) FILTER (WHERE serial_no IS NULL) nulls, count(DISTINCT serial_no) distinct_serials, max(serial_no) FROM t;
SELECT last_value FROM t_seq;
