-- Migration test of 002_claims_by_status_index: the index exists, is valid, and the
-- verifier work queue (claims by status) can use it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_index WHERE indexrelid = to_regclass('skill_claims_status_idx') AND indisvalid) THEN
        RAISE EXCEPTION 'skill_claims_status_idx is missing or INVALID';
    END IF;
END
$$;

SET LOCAL enable_seqscan = off;

DO $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (FORMAT TEXT) SELECT id FROM skill_claims WHERE status = ''pending''' LOOP
        plan := plan || line || E'\n';
    END LOOP;
    IF plan NOT LIKE '%skill_claims_status_idx%' THEN
        RAISE EXCEPTION 'the work queue query does not use skill_claims_status_idx: %', plan;
    END IF;
END
$$;
