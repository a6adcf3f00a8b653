source <(/work/devpg.sh 5518 2>/dev/null); export NO_COLOR=1 PGDATABASE=hl_e18
B=/work/wt-hostile-l/.build/debug/bellows
dropdb --if-exists hl_e18 2>/dev/null; createdb hl_e18
$B migrate | tail -1; psql -q -c "INSERT INTO t SELECT g, g, CASE WHEN g % 2 = 0 THEN 'import' END FROM generate_series(1,20000) g"
$B expand 001 2>&1 | tail -1; $B backfill 001 2>&1 | tail -1
echo "== 10 rows made wrong behind the trigger's back (replica-mode writes)"
psql -q -c "SET session_replication_role = replica; UPDATE t SET origin = 'garbage' WHERE id <= 10"
psql -c "SELECT origin, count(*) FROM t GROUP BY 1 ORDER BY 1"
echo "== verify"; $B verify 001 2>&1 | tail -3 | cut -c1-300
echo "== the same for an alter plan, for comparison: see findings/08 README"
