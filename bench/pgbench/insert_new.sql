-- New application code: a single-row insert that sets the new column.
INSERT INTO bench (id, body) VALUES (nextval('bench_insert_id'), md5(random()::text) || md5(random()::text) || md5(random()::text) || 'ins.');
