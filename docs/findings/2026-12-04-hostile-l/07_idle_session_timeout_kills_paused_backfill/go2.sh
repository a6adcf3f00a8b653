W=$1
source <(/work/devpg.sh 5518 2>/dev/null); export NO_COLOR=1 PGDATABASE=hl_e16
B=/work/wt-hostile-l/.build/debug/bellows
sed -i "s/workers: [0-9]*/workers: $W/; s/target_batch_ms: [0-9]*/target_batch_ms: 1500/" plans/001_hash.yaml
dropdb --if-exists hl_e16 2>/dev/null; createdb hl_e16
$B migrate | tail -1; psql -q -f seed.sql
$B expand 001 2>&1 | tail -1
psql -q -c "ALTER DATABASE hl_e16 SET idle_session_timeout = '400ms'"
$B backfill 001 2>&1 | grep -v '^\[' | tail -6 | cut -c1-300; echo "rc=${PIPESTATUS[0]}"
psql -c "SELECT count(*) wrong FROM t WHERE pad_up IS DISTINCT FROM upper(pad)"
