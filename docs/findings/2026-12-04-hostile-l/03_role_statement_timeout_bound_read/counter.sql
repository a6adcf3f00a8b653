CREATE TABLE IF NOT EXISTS public.upd_log (k text, app text, at timestamptz default clock_timestamp());
GRANT ALL ON public.upd_log TO PUBLIC;
CREATE OR REPLACE FUNCTION public.upd_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.upd_log(k, app) VALUES (NEW.id::text, current_setting('application_name')); RETURN NEW; END $$;
