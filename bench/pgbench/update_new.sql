-- New application code: a single-row update through the new column.
\set id random(1, :n)
UPDATE bench SET body = md5(:id::text || random()::text) || md5(random()::text) || md5(random()::text) || 'upd.' WHERE id = :id;
