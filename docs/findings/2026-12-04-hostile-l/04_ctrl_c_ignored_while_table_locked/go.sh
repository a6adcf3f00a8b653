W=${1:-4}
source <(/work/devpg.sh 5518 2>/dev/null); export NO_COLOR=1 PGDATABASE=hl_e10
B=/work/wt-hostile-l/.build/debug/bellows
sed -i "s/workers: [0-9]*/workers: $W/" plans/001_hash.yaml
dropdb --if-exists hl_e10 2>/dev/null; createdb hl_e10
$B migrate | tail -1; psql -q -f seed.sql; psql -q -f /tmp/hl/lib/counter.sql
$B expand 001 2>&1 | tail -1
psql -q -c "CREATE TRIGGER zz_count AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION public.upd_count(); ALTER TABLE t ENABLE ALWAYS TRIGGER zz_count;"
$B backfill 001 > bf_w$W.txt 2>&1 &
BP=$!
sleep 1
psql -q -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(25); COMMIT;" > /dev/null &
LP=$!
sleep 3
echo "== while the lock is held (workers $W)"; psql -c "SELECT application_name, state, wait_event_type, left(query,60) q FROM pg_stat_activity WHERE datname='hl_e10' AND application_name LIKE 'bellows%' ORDER BY 1"
T0=$(date +%s.%N); kill -INT $BP
for i in $(seq 1 60); do kill -0 $BP 2>/dev/null || break; sleep 0.5; done
T1=$(date +%s.%N); echo "bellows exited $(echo "$T1 - $T0" | bc) s after SIGINT"; wait $BP; echo "rc=$?"
tail -5 bf_w$W.txt
wait $LP
psql -c "SELECT application_name, state FROM pg_stat_activity WHERE datname='hl_e10' AND application_name LIKE 'bellows%'"
$B backfill 001 2>&1 | tail -2
psql -c "SELECT count(*) AS keys_updated_more_than_once FROM (SELECT k FROM upd_log GROUP BY k HAVING count(*)>1) s" -c "SELECT count(*) wrong FROM t WHERE pad_up IS DISTINCT FROM upper(pad)"
