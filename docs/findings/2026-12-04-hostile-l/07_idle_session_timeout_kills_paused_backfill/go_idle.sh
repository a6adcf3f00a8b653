W=${1:-4}
source <(/work/devpg.sh 5518 2>/dev/null); export NO_COLOR=1 PGDATABASE=hl_e10
B=/work/wt-hostile-l/.build/debug/bellows
sed -i "s/workers: [0-9]*/workers: $W/" plans/001_hash.yaml
dropdb --if-exists hl_e10 2>/dev/null; createdb hl_e10
$B migrate | tail -1; psql -q -f seed.sql
$B expand 001 2>&1 | tail -1
psql -q -c "ALTER DATABASE hl_e10 SET idle_session_timeout = '1s'"
$B backfill 001 > bfi_w$W.txt 2>&1 &
BP=$!
sleep 1
psql -q -c "SET idle_session_timeout = 0; BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(5); COMMIT;" > /dev/null
wait $BP; echo "workers $W: backfill rc=$?"; grep -v '^\[' bfi_w$W.txt | tail -3 | cut -c1-200
