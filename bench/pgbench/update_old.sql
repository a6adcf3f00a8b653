-- Old application code: a single-row update through the old column.
\set id random(1, :n)
UPDATE bench SET payload = md5(:id::text || random()::text) || md5(random()::text) || md5(random()::text) || 'upd.' WHERE id = :id;
