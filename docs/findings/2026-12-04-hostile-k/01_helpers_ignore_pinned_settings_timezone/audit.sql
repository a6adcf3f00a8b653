CREATE TABLE IF NOT EXISTS hk_audit (k text, app text, at timestamptz default clock_timestamp());
CREATE OR REPLACE FUNCTION hk_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('bellows.backfill', true), '') <> '' THEN
    INSERT INTO hk_audit(k, app) VALUES (NEW.id::text, current_setting('application_name'));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER hk_count AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION hk_count();
ALTER TABLE t ENABLE ALWAYS TRIGGER hk_count;
