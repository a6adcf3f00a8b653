#!/bin/bash
# usage: run.sh PROJECTDIR DB  — project has migrations/, plans/001_*.yaml, seed.sql, optional pre_backfill.sql, bellows_env
set -u
P=$1; DB=$2
source <(/work/devpg.sh 5518 2>/dev/null)
B=/work/wt-hostile-l/.build/debug/bellows
export NO_COLOR=1
dropdb --if-exists $DB; createdb $DB
export PGDATABASE=$DB
cd $P
[ -f setup_roles.sql ] && psql -q -v ON_ERROR_STOP=1 -f setup_roles.sql
echo "== migrate"; $B migrate 2>&1 | tail -3
echo "== seed"; psql -q -v ON_ERROR_STOP=1 -f seed.sql
cat > /tmp/hl/lib/counter.sql <<SQL
CREATE TABLE IF NOT EXISTS public.upd_log (k text, app text, at timestamptz default clock_timestamp());
GRANT ALL ON public.upd_log TO PUBLIC;
CREATE OR REPLACE FUNCTION public.upd_count() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN INSERT INTO public.upd_log(k, app) VALUES (NEW.id::text, current_setting('application_name')); RETURN NEW; END \$\$;
SQL
psql -q -v ON_ERROR_STOP=1 -f /tmp/hl/lib/counter.sql
[ -f env.sh ] && source env.sh
echo "== expand"; $B expand 001 2>&1 | tail -${TAILN:-4}; echo "rc=$?"
T=$(cat table 2>/dev/null || echo t)
psql -q -v ON_ERROR_STOP=1 -c "CREATE TRIGGER zz_count AFTER UPDATE ON $T FOR EACH ROW EXECUTE FUNCTION public.upd_count(); ALTER TABLE $T ENABLE ALWAYS TRIGGER zz_count;"
[ -f pre_backfill.sql ] && psql -q -v ON_ERROR_STOP=1 -f pre_backfill.sql
echo "== backfill"; $B backfill 001 2>&1 | grep -v '^\s*$' | tail -${TAILN:-8}; echo "rc=${PIPESTATUS[0]}"
echo "== update counts"
psql -c "SELECT app, count(*), count(DISTINCT k) FROM upd_log GROUP BY app" -c "SELECT count(*) AS keys_updated_more_than_once FROM (SELECT k FROM upd_log GROUP BY k HAVING count(*)>1) s" -c "SELECT count(*) AS rows_total FROM $T" -c "SELECT count(*) AS rows_never_updated FROM $T WHERE id::text NOT IN (SELECT k FROM upd_log)"
[ -f check.sql ] && psql -f check.sql
echo "== verify"; $B verify 001 2>&1 | tail -6; echo "rc=$?"
echo "== history"; $B history 001 --format json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); ev=d.get("events",d); [print(e.get("command"),e.get("outcome"),{k:v for k,v in (e.get("details") or {}).items() if k in ("rows_updated","sessions_this_run","rows_updated_this_run")}) for e in (ev if isinstance(ev,list) else [])]' 2>&1 | tail -5
