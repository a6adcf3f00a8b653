source <(/work/devpg.sh 5518 2>/dev/null); export NO_COLOR=1 PGDATABASE=hl_e16
B=/work/wt-hostile-l/.build/debug/bellows
dropdb --if-exists hl_e16 2>/dev/null; createdb hl_e16
$B migrate | tail -1; psql -q -f seed.sql
$B expand 001 2>&1 | tail -1
psql -q -c "ALTER DATABASE hl_e16 SET idle_session_timeout = '500ms'"
$B backfill 001 > bf.txt 2>&1 &
BP=$!
sleep 0.7; $B pause 001 2>&1 | tail -2
sleep 4
echo "== while paused 4 s"; psql -c "SELECT application_name, state FROM pg_stat_activity WHERE datname='hl_e16' AND application_name LIKE 'bellows%' ORDER BY 1"
kill -0 $BP && echo "bellows still running"
$B resume 001 2>&1 | tail -1
wait $BP; echo "backfill rc=$?"; grep -v '^\[' bf.txt | tail -8 | cut -c1-300
psql -c "SELECT count(*) wrong FROM t WHERE pad_up IS DISTINCT FROM upper(pad)"
