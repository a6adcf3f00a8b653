-- Issue 22: the backfill's access path, measured without Bellows around it (bench/tid_walk.sh).
-- Two walks over the expanded bench table, each a procedure (a COMMIT per batch, no client
-- round trips), copying payload into body exactly as Bellows' batch does (the same pending
-- condition, the dual-write trigger enabled and standing aside by bellows.backfill, which the
-- caller sets for the session with synchronous_commit = off and session_replication_role =
-- replica, as Bellows sets them for each batch):
--   bench_keyset_walk: keyset batches by the primary key, as `bellows render 001_bench_rename
--     --phase backfill` shows them: the batch's last key from an index walk (OFFSET n - 1), then
--     the rows between the cursor and that key (an index range scan).
--   bench_block_walk: block ranges, `ctid >= '(b,0)' AND ctid < '(b+k,0)'` (a TID Range Scan,
--     PostgreSQL 14+), up to the relation's block count taken when the walk started.
-- Each call walks until it has done `budget` (rows updated, or blocks passed) and hands its
-- cursor back (INOUT), so that the caller can run a VACUUM between calls: VACUUM cannot run
-- inside a procedure. Bellows runs one after every tenth of the table's rows.

CREATE OR REPLACE PROCEDURE bench_keyset_walk(batch integer, INOUT cursor_key bigint, upper_key bigint, budget bigint,
                                              INOUT updated bigint DEFAULT 0, INOUT batches integer DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
  last_key bigint;
  n bigint;
  done bigint := 0;
BEGIN
  LOOP
    EXIT WHEN done >= budget;
    -- Bellows' bound: the batch-th key after the cursor, or the last one up to the walk's end.
    SELECT id INTO last_key FROM bench WHERE id > cursor_key AND id <= upper_key ORDER BY id OFFSET batch - 1 LIMIT 1;
    IF NOT FOUND THEN
      SELECT id INTO last_key FROM bench WHERE id > cursor_key AND id <= upper_key ORDER BY id DESC LIMIT 1;
    END IF;
    EXIT WHEN last_key IS NULL;
    UPDATE bench SET body = (payload)::text
    WHERE id > cursor_key AND id <= last_key
      AND ((ROW(body) IS NULL AND NOT ROW((payload)::text) IS NULL));
    GET DIAGNOSTICS n = ROW_COUNT;
    cursor_key := last_key;
    done := done + n;
    updated := updated + n;
    batches := batches + 1;
    COMMIT;
  END LOOP;
END
$$;

CREATE OR REPLACE PROCEDURE bench_block_walk(blocks integer, INOUT cursor_block bigint, end_block bigint, budget bigint,
                                             INOUT updated bigint DEFAULT 0, INOUT batches integer DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
  stop bigint := least(end_block, cursor_block + budget);
  next_block bigint;
  n bigint;
BEGIN
  WHILE cursor_block < stop LOOP
    next_block := least(cursor_block + blocks, end_block);
    -- The upper bound of the last range is the block count taken at the start: new row versions
    -- the walk itself appends past it are not walked again.
    UPDATE bench SET body = (payload)::text
    WHERE ctid >= format('(%s,0)', cursor_block)::tid AND ctid < format('(%s,0)', next_block)::tid
      AND ((ROW(body) IS NULL AND NOT ROW((payload)::text) IS NULL));
    GET DIAGNOSTICS n = ROW_COUNT;
    cursor_block := next_block;
    updated := updated + n;
    batches := batches + 1;
    COMMIT;
  END LOOP;
END
$$;

-- The two access paths interleaved on one table, batch by batch, so that the machine's drift
-- (minutes) cancels: batch j updates keys (j*n, (j+1)*n] by Bellows' keyset statements or
-- blocks [j*k, (j+1)*k) by a TID range, alternately (`phase` says which kind batch 0 is). On the
-- freshly loaded bench table every page holds `per_block` rows in key order, so with
-- n = k * per_block both kinds of batch j cover exactly the same rows. Each batch (its bound
-- walk, its UPDATE, its COMMIT) is timed with clock_timestamp(); batches up to `stop_j`.
CREATE OR REPLACE PROCEDURE bench_interleaved_walk(k integer, per_block integer, phase integer, end_block bigint, stop_j integer,
                                                   INOUT j integer DEFAULT 0,
                                                   INOUT keyset_ms float8 DEFAULT 0, INOUT keyset_rows bigint DEFAULT 0,
                                                   INOUT block_ms float8 DEFAULT 0, INOUT block_rows bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
  n bigint := k::bigint * per_block;
  cursor_key bigint;
  last_key bigint;
  nrows bigint;
  t0 timestamptz;
BEGIN
  WHILE j < stop_j AND j::bigint * k < end_block LOOP
    t0 := clock_timestamp();
    IF (j + phase) % 2 = 0 THEN
      cursor_key := j * n;
      SELECT id INTO last_key FROM bench WHERE id > cursor_key AND id <= 9223372036854775807 ORDER BY id OFFSET n - 1 LIMIT 1;
      IF NOT FOUND THEN
        SELECT id INTO last_key FROM bench WHERE id > cursor_key ORDER BY id DESC LIMIT 1;
      END IF;
      UPDATE bench SET body = (payload)::text
      WHERE id > cursor_key AND id <= last_key
        AND ((ROW(body) IS NULL AND NOT ROW((payload)::text) IS NULL));
      GET DIAGNOSTICS nrows = ROW_COUNT;
      COMMIT;
      keyset_ms := keyset_ms + extract(epoch FROM clock_timestamp() - t0) * 1000;
      keyset_rows := keyset_rows + nrows;
    ELSE
      UPDATE bench SET body = (payload)::text
      WHERE ctid >= format('(%s,0)', j::bigint * k)::tid AND ctid < format('(%s,0)', least((j + 1)::bigint * k, end_block))::tid
        AND ((ROW(body) IS NULL AND NOT ROW((payload)::text) IS NULL));
      GET DIAGNOSTICS nrows = ROW_COUNT;
      COMMIT;
      block_ms := block_ms + extract(epoch FROM clock_timestamp() - t0) * 1000;
      block_rows := block_rows + nrows;
    END IF;
    j := j + 1;
  END LOOP;
END
$$;
