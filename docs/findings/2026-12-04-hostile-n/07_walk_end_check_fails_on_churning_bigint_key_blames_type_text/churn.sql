INSERT INTO t (id, v) VALUES (nextval('s'), 'job');
DELETE FROM t WHERE id = currval('s');
