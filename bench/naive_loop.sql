-- The migration guide's loop: flag each row when it is copied and take the next batch with
-- `WHERE migrated = false LIMIT n`, one transaction per batch, until a batch finds no row.
-- A procedure (COMMIT per batch, no client round trips) is the cheapest way to run it.
-- It stops early at `deadline` so a quadratic run cannot eat the benchmark's time budget.
CREATE OR REPLACE PROCEDURE bench_naive_loop(batch integer, deadline timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  LOOP
    UPDATE bench SET body = payload, migrated = true
    WHERE id IN (SELECT id FROM bench WHERE migrated = false LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    COMMIT;
    EXIT WHEN n = 0 OR clock_timestamp() > deadline;
  END LOOP;
END
$$;
