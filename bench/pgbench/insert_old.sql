-- Old application code: a single-row insert that sets the old column.
INSERT INTO bench (id, payload) VALUES (nextval('bench_insert_id'), md5(random()::text) || md5(random()::text) || md5(random()::text) || 'ins.');
