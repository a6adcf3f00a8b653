-- The application while contract runs: read one row, write another, in one transaction. Only
-- the key is named, so the statements stay valid across contract's renames and drops; the
-- write still fires every trigger of the table (the dual-write trigger until contract drops it).
\set rid random(1, :n)
\set wid random(1, :n)
BEGIN;
SELECT * FROM bench WHERE id = :rid;
UPDATE bench SET id = id WHERE id = :wid;
END;
