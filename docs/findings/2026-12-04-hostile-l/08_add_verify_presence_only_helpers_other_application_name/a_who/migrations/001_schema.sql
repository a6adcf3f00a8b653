CREATE TABLE t (id bigint PRIMARY KEY, a int, created_by text);
-- a generic helper the team uses in defaults and triggers: who is writing
CREATE FUNCTION who() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_setting('application_name') $$;
