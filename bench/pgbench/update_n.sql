-- Old application code on the change kinds' table: a single-row update of the integer column n
-- (the column an integer → bigint or NOT NULL change replaces or fills).
\set id random(1, :n)
\set v random(1, 1000000)
UPDATE bench SET n = :v WHERE id = :id;
