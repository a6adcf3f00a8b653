source <(/work/devpg.sh 5518 2>/dev/null); export NO_COLOR=1 PGDATABASE=hl_e11
B=/work/wt-hostile-l/.build/debug/bellows
psql -d postgres -q -c "DROP DATABASE IF EXISTS hl_e11" -c "DROP ROLE IF EXISTS hl_lim" -c "CREATE ROLE hl_lim LOGIN CONNECTION LIMIT 3" -c "CREATE DATABASE hl_e11 OWNER hl_lim" 2>&1 | grep -v NOTICE
export PGUSER=hl_lim
$B migrate | tail -1; psql -q -f seed.sql
$B expand 001 2>&1 | tail -1
$B backfill 001 > bf.txt 2>&1 &
BP=$!
sleep 0.9
echo "== status as the same role during the walk"; $B status 2>&1 | tail -3; echo "rc=$?"
echo "== pause as the same role"; $B pause 001 2>&1 | tail -3; echo "rc=$?"
psql -U postgres -c "SELECT application_name, state FROM pg_stat_activity WHERE usename='hl_lim' ORDER BY 1"
wait $BP; echo "backfill rc=$?"; grep -v '^\s*backfill 001' bf.txt | head -12
psql -U postgres -c "SELECT count(*) wrong FROM t WHERE pad_up IS DISTINCT FROM upper(pad)"
